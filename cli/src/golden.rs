//! Golden files for what the CLI prints: `rebound incidents show` for every stored
//! incident of the shared golden cases (`shared/tests/golden/<case>/incident.json`, records
//! as Rebound wrote them), the incidents table, and the report (text, JSON, HTML) over
//! the report fixture and those cases. A change to the wording shows up as a diff to
//! review; `UPDATE_GOLDEN=1 cargo nextest run -p rebound-cli golden` rewrites the files
//! after an intended change.

use std::path::{Path, PathBuf};

use rebound::domain::Incident;

use crate::{render, report};

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/tests/golden")
}

fn report_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/report/golden")
}

/// Every golden case's stored incident, by case name, in name order.
fn recorded() -> Vec<(String, Incident)> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .expect("shared/tests/golden")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.join("incident.json").is_file())
        .collect();
    dirs.sort();
    dirs.into_iter()
        .map(|dir| {
            let name = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let text = std::fs::read_to_string(dir.join("incident.json")).expect("incident.json");
            let incident = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{name}/incident.json does not decode: {e}"));
            (name, incident)
        })
        .collect()
}

/// Compares (or, with `UPDATE_GOLDEN=1`, writes) each file; one failure lists them all.
fn check(files: Vec<(PathBuf, String)>) {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1");
    let mut mismatches = Vec::new();
    for (path, content) in files {
        if update {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).expect("golden directory");
            }
            std::fs::write(&path, &content).expect("golden file written");
            continue;
        }
        let expected = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
        if expected != content {
            mismatches.push(format!(
                "{} differs:\n--- expected\n{expected}\n--- rendered\n{content}",
                path.display()
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{}\n(after an intended change: UPDATE_GOLDEN=1 cargo nextest run -p rebound-cli golden)",
        mismatches.join("\n")
    );
}

#[test]
fn every_stored_incident_shows_as_its_golden_file() {
    let files = recorded()
        .into_iter()
        .map(|(name, incident)| {
            (
                cases_dir().join(name).join("show.txt"),
                render::incident_detail(&incident),
            )
        })
        .collect();
    check(files);
}

#[test]
fn the_incidents_table_renders_as_its_golden_file() {
    let incidents: Vec<Incident> = recorded().into_iter().map(|(_, i)| i).collect();
    check(vec![(
        cases_dir().join("incidents-table.txt"),
        render::incident_table(&incidents),
    )]);
}

#[test]
fn the_report_renders_as_its_golden_files() {
    let mut incidents = report::fixture::incidents();
    incidents.extend(recorded().into_iter().map(|(_, i)| i));
    let built = report::build(
        &incidents,
        report::fixture::window_start(),
        report::fixture::now(),
    );
    let json = serde_json::to_string_pretty(&built).expect("the report as JSON");
    check(vec![
        (report_dir().join("report.txt"), report::text(&built)),
        (report_dir().join("report.json"), format!("{json}\n")),
        (report_dir().join("report.html"), report::html(&built)),
    ]);
}
