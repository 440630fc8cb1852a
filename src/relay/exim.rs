//! Exim, read-only: its settings from `exim -bP` and its TLS library from `exim -bV`.
