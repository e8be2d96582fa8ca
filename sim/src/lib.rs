//! tlm-sim: filled in by the TLM issue.
