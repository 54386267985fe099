//! scry-tui owns the terminal user interface: csysdig's drill-down views
//! and Sysdig Inspect's overview over a trace, built on `scry-analyze`.
//!
//! * [`source`]: the traces behind the UI and the passes over them
//!   (indexing, filtering), run in the background with progress.
//! * [`index`]: the compact per-event index every view is computed from.
//! * [`views`]: views as data (key, columns, sort, drill target) and the
//!   tables computed from the index.
//! * [`overview`]: the overview tiles and the time-line.
//! * [`app`]: the state and what keys and the mouse do to it.
//! * [`ui`]: drawing; [`term`]: the real terminal and the event loop.
#![forbid(unsafe_code)]

pub mod app;
pub mod index;
pub mod overview;
pub mod source;
pub mod term;
pub mod ui;
pub mod views;

pub use app::App;
pub use source::{Source, Traces};
pub use term::run;
