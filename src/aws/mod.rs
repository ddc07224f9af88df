//! AWS sources: credentials, accounts, regions, one module per kind.
