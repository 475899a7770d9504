//! `set_fact` on one host. Facts whose values and `when` are known before
//! connecting are set then, item by item (a loop may build a list up); a
//! fact that reads a result registered at run time (or that such a fact
//! already holds) is set by a step at run time, and every later task that
//! reads it is rendered at run time too. So is a fact set in a block with
//! `rescue` or `always`: whether it is set depends on what fails.

use super::*;

/// What one `set_fact` does on a host.
pub(super) enum SetFact {
    /// Known before connecting: each fact's value, and whether it read a
    /// secret, in the order they are set.
    Known(Vec<(String, Value, bool)>),
    /// Set at run time by this step.
    Runtime { names: Vec<String>, step: Box<Step> },
}

impl TaskCompiler<'_, '_> {
    pub(super) fn set_fact(
        &mut self,
        scope: &Scope,
        task: &Task,
        facts: &[(String, Node)],
    ) -> Result<SetFact, Diagnostic> {
        let names: Vec<String> = facts.iter().map(|(name, _)| name.clone()).collect();
        let mut working = self.task_scope(scope, task);
        let when_at_run_time = task.when.iter().any(|cond| {
            cond.scalar_string().is_some_and(|text| {
                working
                    .runtime_dependency(&expression_template(&text))
                    .is_some()
            })
        });
        // In a block with `rescue` or `always`, whether the task runs
        // depends on which steps fail: only the run knows.
        if node_runtime_dependency(&working, &task.args).is_some()
            || when_at_run_time
            || !task.blocks.is_empty()
            || names.iter().any(|name| scope.is_registered(name))
        {
            if let Some(looping) = &task.looping {
                return Err(looping
                    .items
                    .error("a loop over a `set_fact` set at run time (it reads a registered result, or is in a block with `rescue` or `always`) is not supported")
                    .with_help("ferry expands loops before connecting: build the value in one `set_fact`"));
            }
            let step = self.step(&working, task, None)?;
            return Ok(SetFact::Runtime {
                names,
                step: Box::new(step),
            });
        }
        let items = match &task.looping {
            Some(looping) => {
                let (list, secret) = self.loop_list(&working, task, looping)?;
                (0..list.len())
                    .map(|i| Some((looping, list.clone(), i, secret)))
                    .collect()
            }
            None => vec![None],
        };
        let mut known = Vec::new();
        for item in items {
            let item_scope = match &item {
                Some((looping, list, index, secret)) => {
                    item_scope(&working, looping, list, *index, *secret)
                }
                None => working.clone(),
            };
            if !conditions_hold(&item_scope, task)? {
                continue;
            }
            // Every value is rendered before any is set, as in Ansible.
            let mut set = Vec::new();
            for (name, node) in facts {
                let value = item_scope.render_node(node)?;
                let secret = item_scope.node_reads_secret(node);
                set.push((name.clone(), value, secret));
            }
            for (name, value, secret) in set {
                working.set(name.clone(), Raw::Final(Arc::new(value.clone())));
                if secret {
                    working.mark_secret(&name);
                }
                known.push((name, value, secret));
            }
            working.set_nodes(&task.params);
            set_highest(&mut working, self.input);
        }
        Ok(SetFact::Known(known))
    }

    /// Sets what a `set_fact` set in the host's scope; the steps it leaves.
    pub(super) fn apply(&mut self, scope: &mut Scope, set: SetFact) -> Vec<Step> {
        match set {
            SetFact::Known(facts) => {
                for (name, value, secret) in facts {
                    let value = Arc::new(value);
                    scope.set(name.clone(), Raw::Final(value.clone()));
                    if secret {
                        scope.mark_secret(&name);
                    }
                    self.facts.retain(|(known, _)| *known != name);
                    self.facts.push((name, value));
                }
                set_highest(scope, self.input);
                Vec::new()
            }
            SetFact::Runtime { names, step } => {
                for name in &names {
                    scope.register(name);
                    self.facts.retain(|(known, _)| known != name);
                }
                vec![*step]
            }
        }
    }
}
