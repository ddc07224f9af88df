# jq 1.7 builtins that jaq lacks or defines differently, written after jq's own definitions.
# Each is compared with the jq CLI in jq_builtins.rs.

# SQL-style operators
def IN(s): any(s == .; .);
def IN(src; s): any(src == s; .);
def INDEX(stream; idx_expr): reduce stream as $row ({}; .[$row | idx_expr | tostring] |= $row);
def INDEX(idx_expr): INDEX(.[]; idx_expr);

# Paths and streaming. jq's setpath builds the missing levels (`null | setpath(["a", 0]; 1)`).
def setpath($p; $x):
  if $p == [] then $x
  else $p[0] as $k | $p[1:] as $rest
  | if ($k | type) == "string" and (type == "object" or . == null) then
      . + {($k): (.[$k] | setpath($rest; $x))}
    elif ($k | type) == "number" and (type == "array" or . == null) then
      (. // []) as $a
      | (if $k < 0 then $k + ($a | length) else $k end | floor) as $i
      | if $i < 0 then error("Out of bounds negative array index")
        elif $i < ($a | length) then $a[:$i] + [$a[$i] | setpath($rest; $x)] + $a[$i + 1:]
        else $a + [range($i - ($a | length)) | null] + [null | setpath($rest; $x)] end
    else .[$k] |= setpath($rest; $x) end
  end;
def leaf_paths: paths(scalars);
def tostream: path(def r: (.[]? | r), .; r) as $p | getpath($p) | reduce path(.[]?) as $q ([$p, .]; [$p + $q]);
def fromstream(f): {x: null, e: false} as $init
  | foreach f as $i ($init;
      if .e then $init end
      | if $i | length == 2
        then setpath(["e"]; $i[0] | length == 0) | setpath(["x"] + $i[0]; $i[1])
        else setpath(["e"]; $i[0] | length == 1) end;
      if .e then .x else empty end);
def truncate_stream(stream): . as $n | null | stream | . as $input
  | if (.[0] | length) > $n then setpath([0]; .[0][$n:]) else empty end;

# jq walks bottom-up: children first, then the node.
def walk(f): def w: if type == "object" then map_values(w) elif type == "array" then map(w) end | f; w;

# jq accepts key/k/name/Name/K/Key and value/v/Value (AWS tags are {Key, Value}).
def from_entries: reduce .[] as $x ({};
  . + {($x | if .key == null then .k // .name // .Name // .K // .Key else .key end
           | if type == "string" then . else tojson end):
       ($x | if has("value") then .value elif has("v") then .v else .Value end)});
def with_entries(f): to_entries | map(f) | from_entries;

# jq joins null as "" and numbers and booleans as JSON.
def join($x): reduce .[] as $i (null;
  (if . == null then "" else . + $x end)
  + ($i | if . == null then "" elif type == "string" then . else tojson end)) // "";

# Arrays
def toarray: if type == "array" then . else [.] end;

# Strings: jq leaves the input alone when it is not a string or lacks the affix.
def ltrimstr($x): if type == "string" and ($x | type) == "string" and startswith($x)
  then .[($x | length):] end;
def rtrimstr($x): if type == "string" and ($x | type) == "string" and endswith($x) and ($x | length) > 0
  then .[:length - ($x | length)] end;

# Dates: jq's todate also takes broken-down time (gmtime's output).
def todate: strftime("%Y-%m-%dT%H:%M:%SZ");
def date: todate;
def dateadd(u; n): . + n;
def datesub(u; n): . - n;

# Formats
def @csv: if type != "array" then error("\(type) (\(tojson)) cannot be csv-formatted, only an array can be") end
  | map(if type == "string" then "\"" + gsub("\""; "\"\"") + "\""
        elif type == "number" or type == "boolean" then tojson
        elif . == null then ""
        else error("\(type) (\(tojson)) is not valid in a csv row") end)
  | join(",");
def @tsv: if type != "array" then error("\(type) (\(tojson)) cannot be tsv-formatted, only an array can be") end
  | map(if type == "string" then gsub("\\\\"; "\\\\") | gsub("\t"; "\\t") | gsub("\n"; "\\n") | gsub("\r"; "\\r")
        elif type == "number" or type == "boolean" then tojson
        elif . == null then ""
        else error("\(type) (\(tojson)) is not valid in a tsv row") end)
  | join("\t");
def @base32: tostring | encode_base32;
def @base32d: tostring | decode_base32;

# What this jq is: jaq keeps number literals as written, without decNumber arithmetic.
def have_literal_numbers: true;
def have_decnum: false;
def lgamma_r: [lgamma, (if tgamma < 0 then -1.0 else 1.0 end)];
