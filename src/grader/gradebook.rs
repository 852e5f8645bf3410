//! The class gradebook, `gradebook.csv`: one row per submission (student, points per lab, total,
//! and `graded` or `not graded: why`), written and read back with a real CSV reader and writer,
//! safe to open in a spreadsheet, and never trusted on a re-run beyond what the student's JSON
//! beside it and the labs' maximum confirm.

use super::{Lab, Report};
use std::fs;
use std::path::Path;

/// One line of the gradebook.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub student: String,
    /// Points per lab, in the order of the labs graded.
    pub points: Vec<u32>,
    pub status: String,
}

impl Row {
    pub fn summary(&self) -> String {
        match self.status.as_str() {
            "graded" => format!("{} points", self.points.iter().sum::<u32>()),
            other => other.to_string(),
        }
    }
}

/// A cell as a spreadsheet should show it: text starting with `= + - @` (or a tab or carriage
/// return, which some spreadsheets strip first) would be taken for a formula, so it gets a
/// leading `'`, as does text already starting with one (so that [`unescape`] is exact).
pub fn escape(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r', '\'']) {
        format!("'{text}")
    } else {
        text.to_string()
    }
}

fn unescape(text: &str) -> String {
    text.strip_prefix('\'').unwrap_or(text).to_string()
}

/// Writes the rows under a header of the labs' names.
pub fn write(path: &Path, labs: &[Lab], rows: &[Row]) -> Result<(), String> {
    let fail = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    // Written beside and renamed: a reader never sees half a gradebook.
    let partial = path.with_extension("csv.partial");
    let mut out = csv::Writer::from_path(&partial).map_err(|e| fail(&e))?;
    let mut header = vec!["student".to_string()];
    header.extend(labs.iter().map(|l| l.name.to_string()));
    header.extend(["total".into(), "status".into()]);
    out.write_record(&header).map_err(|e| fail(&e))?;
    for row in rows {
        let mut record = vec![escape(&row.student)];
        record.extend(row.points.iter().map(u32::to_string));
        record.push(row.points.iter().sum::<u32>().to_string());
        record.push(escape(&row.status));
        out.write_record(&record).map_err(|e| fail(&e))?;
    }
    out.flush().map_err(|e| fail(&e))?;
    drop(out);
    fs::rename(&partial, path).map_err(|e| fail(&e))
}

/// The rows of an earlier gradebook of the same labs; none when it graded other labs or cannot
/// be read. Rows are as written: see [`confirmed`] before trusting one.
pub fn read(path: &Path, labs: &[Lab]) -> Vec<Row> {
    let Ok(mut reader) = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_path(path)
    else {
        return Vec::new();
    };
    let mut expected = vec!["student"];
    expected.extend(labs.iter().map(|l| l.name));
    expected.extend(["total", "status"]);
    match reader.headers() {
        Ok(h) if h.iter().eq(expected.iter().copied()) => {}
        _ => return Vec::new(),
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let Ok(record) = record else {
            // A damaged gradebook: nothing in it is kept.
            return Vec::new();
        };
        let fields: Vec<&str> = record.iter().collect();
        let (Some((student, rest)), true) = (fields.split_first(), fields.len() == labs.len() + 3)
        else {
            return Vec::new();
        };
        let points: Option<Vec<u32>> = rest[..labs.len()].iter().map(|p| p.parse().ok()).collect();
        let Some(points) = points else {
            continue;
        };
        rows.push(Row {
            student: unescape(student),
            points,
            status: unescape(rest[labs.len() + 1]),
        });
    }
    rows
}

/// Whether an earlier row may be kept without grading again: it says `graded`, no lab has more
/// points than its checks are worth, and the student's JSON (`json`, beside the gradebook) is the
/// grader's and gives every lab the same points.
pub fn confirmed(row: &Row, labs: &[Lab], json: &Path) -> bool {
    if row.status != "graded" || row.points.len() != labs.len() {
        return false;
    }
    let within = labs
        .iter()
        .zip(&row.points)
        .all(|(lab, p)| *p <= lab.checks.iter().map(|c| c.points).sum::<u32>());
    if !within {
        return false;
    }
    let Some(value) = fs::read(json)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
    else {
        return false;
    };
    let Ok(report) = Report::from_json(labs, &value) else {
        return false;
    };
    let from_json: Vec<u32> = labs
        .iter()
        .map(|lab| {
            report
                .outcomes
                .iter()
                .filter(|(l, _)| *l == lab.name)
                .map(|(_, o)| o.points)
                .sum()
        })
        .collect();
    from_json == row.points
        && value["score"].as_u64() == Some(row.points.iter().sum::<u32>().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_survive_a_round_trip() {
        let dir = std::env::temp_dir().join(format!("socklab-book-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let rows = vec![
            Row {
                student: "ann, \"the\" first\nsecond line".into(),
                points: vec![3, 0],
                status: "graded".into(),
            },
            Row {
                student: "=HYPERLINK(\"x\")".into(),
                points: vec![0, 0],
                status: "not graded: no labs/ folder, or \"x\"".into(),
            },
            Row {
                student: "'quoted".into(),
                points: vec![1, 2],
                status: "graded".into(),
            },
        ];
        let labs = [Lab::new("a", "A", &[]), Lab::new("b", "B", &[])];
        let path = dir.join("g.csv");
        write(&path, &labs, &rows).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"'=HYPERLINK(\"\"x\"\")\""), "{text}");
        assert_eq!(read(&path, &labs), rows);
        assert_eq!(read(&path, &labs[..1]), vec![]);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn formulas_are_escaped() {
        for bad in ["=1+1", "+1", "-1", "@SUM(A1)"] {
            assert_eq!(escape(bad), format!("'{bad}"));
        }
        assert_eq!(escape("carol"), "carol");
    }
}
