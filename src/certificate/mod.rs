//! The Certificate controller: DESIGN.md §3, decide (pure) then do one step.

pub mod decide;
pub mod observed;
pub mod renewal;
pub mod secret;
pub mod spec;
