//! A small SVG of ops drawn over their processes: each op a box on its process's lane (left to
//! right in invocation order, its time written in it), each relation between two ops an arrow
//! labelled with its kind. The kafka and txn trails draw their gaps and cycles with it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::html::escape;
use crate::history::{Nanos, OpType};

/// One op on the drawing.
pub struct OpBox {
    /// History index of the invocation (the box links to `#op-N`).
    pub op: usize,
    pub process: String,
    pub invoked: Nanos,
    pub outcome: OpType,
    /// First line (bold), e.g. `T105` or `op 12 poll`.
    pub title: String,
    /// Second line: what the op did, short.
    pub detail: String,
    /// Named by the finding (drawn with a heavy border), rather than shown for context.
    pub named: bool,
}

/// One relation: `from` and `to` are indices into the boxes.
pub struct Arrow {
    pub from: usize,
    pub to: usize,
    /// Short, on the arrow: `ww k10`, `skipped 4`.
    pub label: String,
    /// The whole sentence, on hover.
    pub title: String,
    /// Its colour and dash: one of [`KINDS`].
    pub kind: &'static str,
}

/// Arrow kinds and their colours (dashed for order rather than data).
pub const KINDS: &[(&str, &str, bool)] = &[
    ("ww", "#c0392b", false),
    ("wr", "#1f6fb2", false),
    ("rw", "#d68910", false),
    ("process", "#777", true),
    ("realtime", "#8e44ad", true),
    ("read", "#1f6fb2", false),
    ("skipped", "#c0392b", true),
    ("then", "#777", true),
];

const LANE_H: f64 = 76.0;
const BOX_H: f64 = 36.0;
const GAP: f64 = 110.0;
const LEFT: f64 = 90.0;
const TOP: f64 = 56.0;

fn colour(kind: &str) -> (&'static str, bool) {
    KINDS
        .iter()
        .find(|(k, _, _)| *k == kind)
        .map_or(("#444", false), |(_, c, d)| (*c, *d))
}

/// The SVG; `id` makes its marker ids unique on the page.
pub fn render(id: &str, boxes: &[OpBox], arrows: &[Arrow]) -> String {
    // Lanes: processes in numeric order.
    let lanes: BTreeSet<(usize, &str)> = boxes
        .iter()
        .map(|b| (b.process.len(), b.process.as_str()))
        .collect();
    let lane_of: BTreeMap<&str, usize> = lanes
        .iter()
        .enumerate()
        .map(|(i, (_, p))| (*p, i))
        .collect();
    // Columns: invocation order.
    let mut order: Vec<usize> = (0..boxes.len()).collect();
    order.sort_by_key(|&i| (boxes[i].invoked, boxes[i].op));
    let mut column = vec![0usize; boxes.len()];
    for (c, &i) in order.iter().enumerate() {
        column[i] = c;
    }
    let chars = boxes
        .iter()
        .map(|b| b.title.chars().count().max(b.detail.chars().count()))
        .max()
        .unwrap_or(8);
    let box_w = (chars as f64 * 6.4 + 14.0).clamp(96.0, 330.0);
    let width = (LEFT + boxes.len() as f64 * (box_w + GAP) + 10.0).max(720.0);
    let height = TOP + lanes.len() as f64 * LANE_H + 16.0;
    let x_of = |i: usize| LEFT + column[i] as f64 * (box_w + GAP);
    let y_of = |i: usize| TOP + lane_of[boxes[i].process.as_str()] as f64 * LANE_H;

    let mut s = String::new();
    let _ = write!(
        s,
        "<svg class=\"opgraph\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" \
         height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\" font-size=\"11\" \
         font-family=\"system-ui,sans-serif\"><defs>"
    );
    for (kind, c, _) in KINDS {
        let _ = write!(
            s,
            "<marker id=\"{id}-{kind}\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" \
             markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\">\
             <path d=\"M0,0L10,5L0,10z\" fill=\"{c}\"/></marker>"
        );
    }
    s.push_str("</defs>");
    for (p, lane) in &lane_of {
        let y = TOP + *lane as f64 * LANE_H + BOX_H / 2.0;
        let _ = write!(
            s,
            "<text x=\"4\" y=\"{:.0}\" fill=\"#333\">process {}</text>\
             <line x1=\"{LEFT}\" y1=\"{y:.0}\" x2=\"{:.0}\" y2=\"{y:.0}\" stroke=\"#ddd\"/>",
            y + 4.0,
            escape(p),
            width - 4.0
        );
    }
    let _ = write!(
        s,
        "<text x=\"{LEFT}\" y=\"14\" fill=\"#777\">left to right: invocation order (times in \
         the boxes) · heavy border: named by the finding · click a box: its messages</text>"
    );
    for (i, b) in boxes.iter().enumerate() {
        let (x, y) = (x_of(i), y_of(i));
        let fill = match b.outcome {
            OpType::Ok => "#e6f5e9",
            OpType::Fail => "#fbdcdc",
            _ => "#fff1c9",
        };
        let (stroke, sw) = if b.named {
            ("#b00", 2.2)
        } else {
            ("#999", 1.0)
        };
        let _ = write!(
            s,
            "<a href=\"#op-{op}\" class=\"op\"><title>op {op}, process {p}: {title} — {detail}</title>\
             <rect x=\"{x:.0}\" y=\"{y:.0}\" width=\"{box_w:.0}\" height=\"{BOX_H}\" rx=\"4\" \
             fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"{sw}\"/>\
             <text x=\"{:.0}\" y=\"{:.0}\" font-weight=\"bold\">{title}</text>\
             <text x=\"{:.0}\" y=\"{:.0}\" font-family=\"ui-monospace,monospace\" font-size=\"10\">{detail}</text></a>",
            x + 6.0,
            y + 14.0,
            x + 6.0,
            y + 29.0,
            op = b.op,
            p = escape(&b.process),
            title = escape(&b.title),
            detail = escape(&b.detail),
        );
    }
    // Arrows between box edges, bowed so that two opposite arrows do not overlap.
    for (n, a) in arrows.iter().enumerate() {
        let (c, dashed) = colour(a.kind);
        let forward = column[a.to] >= column[a.from];
        let (x1, x2) = if a.from == a.to {
            (x_of(a.from) + box_w, x_of(a.from) + box_w * 0.7)
        } else if forward {
            (x_of(a.from) + box_w, x_of(a.to))
        } else {
            (x_of(a.from), x_of(a.to) + box_w)
        };
        let same_lane = y_of(a.from) == y_of(a.to);
        let (y1, y2) = (y_of(a.from) + BOX_H / 2.0, y_of(a.to) + BOX_H / 2.0);
        let bow = if same_lane { 26.0 } else { 14.0 } + (n % 3) as f64 * 6.0;
        let (cx, cy) = (
            (x1 + x2) / 2.0,
            (y1 + y2) / 2.0 + if forward { -bow } else { bow + BOX_H / 2.0 },
        );
        let (y1, y2) = if same_lane && a.from != a.to {
            let dy = if forward { -BOX_H / 2.0 } else { BOX_H / 2.0 };
            (y1 + dy * 0.6, y2 + dy * 0.6)
        } else {
            (y1, y2)
        };
        let (lx, ly) = (
            0.25 * x1 + 0.5 * cx + 0.25 * x2,
            0.25 * y1 + 0.5 * cy + 0.25 * y2,
        );
        let _ = write!(
            s,
            "<g class=\"edge\"><title>{}</title><path d=\"M{x1:.0},{y1:.0} Q{cx:.0},{cy:.0} \
             {x2:.0},{y2:.0}\" fill=\"none\" stroke=\"{c}\" stroke-width=\"1.8\"{} \
             marker-end=\"url(#{id}-{})\"/><text x=\"{lx:.0}\" y=\"{:.0}\" fill=\"{c}\" \
             text-anchor=\"middle\" paint-order=\"stroke\" stroke=\"#fff\" stroke-width=\"3\">{}</text></g>",
            escape(&a.title),
            if dashed {
                " stroke-dasharray=\"5 3\""
            } else {
                ""
            },
            a.kind,
            ly - 3.0,
            escape(&a.label)
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_a_box_per_op_and_an_arrow_per_relation() {
        let b = |op: usize, p: &str, t: Nanos| OpBox {
            op,
            process: p.into(),
            invoked: t,
            outcome: OpType::Ok,
            title: format!("T{op}"),
            detail: "w 1 2".into(),
            named: true,
        };
        let boxes = [b(5, "1", 10), b(3, "0", 5)];
        let arrows = [
            Arrow {
                from: 0,
                to: 1,
                label: "rw k1".into(),
                title: "T5 read, T3 wrote".into(),
                kind: "rw",
            },
            Arrow {
                from: 1,
                to: 0,
                label: "wr k1".into(),
                title: "<x>".into(),
                kind: "wr",
            },
        ];
        let svg = render("t", &boxes, &arrows);
        assert_eq!(svg.matches("<rect").count(), 2);
        assert_eq!(svg.matches("class=\"edge\"").count(), 2);
        assert!(svg.contains("href=\"#op-5\"") && svg.contains("href=\"#op-3\""));
        assert!(svg.contains("url(#t-rw)") && svg.contains("&lt;x&gt;"));
        // T3 was invoked first: it is the left column.
        let rect_x = |op: &str| {
            let at = svg.find(&format!("href=\"#op-{op}\"")).unwrap();
            let rest = &svg[at..];
            let x = &rest[rest.find("<rect x=\"").unwrap() + 9..];
            x[..x.find('"').unwrap()].parse::<f64>().unwrap()
        };
        assert!(rect_x("3") < rect_x("5"));
    }
}
