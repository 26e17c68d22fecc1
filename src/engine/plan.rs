//! Planning: the task × model jobs of a suite, optionally narrowed to some tasks or models.

use crate::error::Error;
use crate::suite::Suite;

/// One unit of work: a model on a task.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Job {
    pub task: String,
    pub model: String,
}

impl Job {
    /// The file stem of the job's record: `task__model`, collision-free. Ids use
    /// `[A-Za-z0-9._-]`; one that holds `__` or starts or ends with `_` (the only ids that could
    /// blur the separator: task `a` × model `m__x` against task `a__m` × model `x`) has its `_`
    /// written `%5F`, a form no plain id can take. Ordinary ids keep readable names.
    pub fn key(&self) -> String {
        format!("{}__{}", key_part(&self.task), key_part(&self.model))
    }
}

fn key_part(id: &str) -> std::borrow::Cow<'_, str> {
    if id.contains("__") || id.starts_with('_') || id.ends_with('_') || id.contains('%') {
        std::borrow::Cow::Owned(id.replace('%', "%25").replace('_', "%5F"))
    } else {
        std::borrow::Cow::Borrowed(id)
    }
}

/// Jobs in suite order: tasks as listed, each task's models as listed.
pub fn plan(suite: &Suite, only_tasks: &[String], only_models: &[String]) -> Result<Vec<Job>, Error> {
    for t in only_tasks {
        if suite.task(t).is_none() {
            let known: Vec<&str> = suite.tasks.iter().map(|t| t.id.as_str()).collect();
            return Err(Error::Usage(format!("--only: no task {t:?} in suite {} (tasks: {})", suite.name, known.join(", "))));
        }
    }
    for m in only_models {
        if suite.model(m).is_none() {
            let known: Vec<&str> = suite.models.iter().map(|m| m.id.as_str()).collect();
            return Err(Error::Usage(format!("--models: no model {m:?} in suite {} (models: {})", suite.name, known.join(", "))));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_do_not_collide() {
        let job = |t: &str, m: &str| Job { task: t.into(), model: m.into() }.key();
        assert_eq!(job("wiki-lines", "kn2"), "wiki-lines__kn2");
        assert_eq!(job("a_b", "c_d"), "a_b__c_d");
        assert_ne!(job("a", "m__x"), job("a__m", "x"));
        assert_ne!(job("a_", "b"), job("a", "_b"));
        let ids = ["a", "_", "__", "a_", "_a", "a__b", "a_b", "b", "a%5F", "x"];
        let mut keys = std::collections::HashSet::new();
        for t in ids {
            for m in ids {
                assert!(keys.insert(job(t, m)), "{t} × {m}");
            }
        }
    }
}
