//! Port API emulator (see README).
