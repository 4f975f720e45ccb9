//! The wait-class colours of report charts: Okabe–Ito, safe for the common colour-vision
//! deficiencies, and the same as the dashboard's (`WAIT_COLOURS` in `host/assets/vigia.js`;
//! the tidy test keeps the two equal), so a class has one colour everywhere.

/// Wait event type → `#rrggbb`.
pub const WAIT_COLOURS: [(&str, &str); 10] = [
    ("CPU", "#009E73"),
    ("IO", "#0072B2"),
    ("Lock", "#D55E00"),
    ("LWLock", "#CC79A7"),
    ("Client", "#56B4E9"),
    ("IPC", "#E69F00"),
    ("BufferPin", "#F0E442"),
    ("Timeout", "#999999"),
    ("Extension", "#882255"),
    ("Activity", "#44AA99"),
];

/// Any other class.
pub const OTHER: &str = "#777777";

/// Bars that are not wait classes (queries, tables, indexes).
pub const BAR: &str = "#0072B2";

pub fn wait_colour(class: &str) -> &'static str {
    WAIT_COLOURS.iter().find(|(c, _)| *c == class).map_or(OTHER, |(_, colour)| colour)
}

/// Classes in the order charts stack them: the palette's, then the others by name.
pub fn stacking_rank(class: &str) -> (usize, String) {
    let rank = WAIT_COLOURS.iter().position(|(c, _)| *c == class).unwrap_or(WAIT_COLOURS.len());
    (rank, class.to_string())
}
