//! The relay's recent log lines for one destination (bounded, newest first).
