//! Planning: the task × model jobs of a suite, optionally narrowed to some tasks or models.

use crate::error::Error;
pub use crate::store::jobs::Job;
use crate::suite::Suite;

/// Jobs in suite order: tasks as listed, each task's models as listed.
pub fn plan(suite: &Suite, only_tasks: &[String], only_models: &[String]) -> Result<Vec<Job>, Error> {
    for t in only_tasks {
        if suite.task(t).is_none() {
            let known: Vec<&str> = suite.tasks.iter().map(|t| t.id.as_str()).collect();
            return Err(Error::Usage(format!(
                "--tasks: no task {t:?} in suite {} (tasks: {})",
                suite.name,
                known.join(", ")
            )));
        }
    }
    for m in only_models {
        if suite.model(m).is_none() {
            let known: Vec<&str> = suite.models.iter().map(|m| m.id.as_str()).collect();
            return Err(Error::Usage(format!(
                "--models: no model {m:?} in suite {} (models: {})",
                suite.name,
                known.join(", ")
            )));
        }
    }
    let jobs: Vec<Job> = suite
        .tasks
        .iter()
        .filter(|t| only_tasks.is_empty() || only_tasks.contains(&t.id))
        .flat_map(|t| {
            t.models
                .iter()
                .filter(|m| only_models.is_empty() || only_models.contains(m))
                .map(|m| Job { task: t.id.clone(), model: m.clone() })
        })
        .collect();
    if jobs.is_empty() {
        return Err(Error::Usage("the selected tasks and models leave no job to run".into()));
    }
    Ok(jobs)
}
