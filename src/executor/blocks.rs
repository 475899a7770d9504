//! Which of a host's steps run, around failures: Ansible's
//! `block`/`rescue`/`always`. A rescue runs only after a failure in its
//! block. A failure inside a block with a `rescue` skips the rest of the
//! block and runs the rescue; a host whose rescue
//! ends without failing is not failed. `always` runs after the block (and
//! its rescue) whether they failed or not; when the failure was not
//! rescued, it goes on to the enclosing block once the `always` is over,
//! and past the outermost block it stops the host.
//!
//! Steps carry their blocks ([`Frame`]s, outermost first), so the decision
//! is a function of the next step's frames, the failure's and the rescues
//! under way ([`Blocks`]).

use std::collections::HashSet;

use crate::playbook::{Frame, Part};

/// What a host does with its next step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    Run,
    /// Not run: in the part of a block a failure skips, or in a rescue
    /// when nothing failed.
    Skip,
    /// A failure left every block it was in: the host stops here.
    Stop,
}

/// A host's place in its blocks as it goes through its steps.
#[derive(Debug, Default)]
pub(crate) struct Blocks {
    /// The frames of each step that failed and is pending, narrowed as
    /// blocks are left; empty while nothing failed or since a rescue took
    /// it over. A failure in an `always` that runs for an earlier failure
    /// is pushed above it: rescued, it leaves the earlier one pending.
    failures: Vec<Vec<Frame>>,
    /// Blocks whose rescue is running: only their rescue steps run.
    rescuing: HashSet<usize>,
}

/// How a failure meets the next step.
enum Meets {
    Run,
    Skip,
    Stop,
    /// A rescue took the failure over; the block whose rescue the step
    /// begins, if it does.
    Rescued(Option<usize>),
}

impl Blocks {
    /// A failure is pending: the host fails unless a rescue takes it over.
    pub(crate) fn failing(&self) -> bool {
        !self.failures.is_empty()
    }

    /// What to do with the next step, in `blocks`.
    pub(crate) fn next(&mut self, blocks: &[Frame]) -> Next {
        while let Some(failure) = self.failures.last_mut() {
            match after_failure(failure, blocks) {
                Meets::Stop => return Next::Stop,
                Meets::Skip => return Next::Skip,
                Meets::Run => break,
                Meets::Rescued(rescuing) => {
                    self.failures.pop();
                    self.rescuing.extend(rescuing);
                }
            }
        }
        let idle_rescue = blocks
            .iter()
            .any(|f| f.part == Part::Rescue && !self.rescuing.contains(&f.block));
        if idle_rescue { Next::Skip } else { Next::Run }
    }

    /// A step in `blocks` failed: false when no block handles it (the host
    /// stops now).
    pub(crate) fn fail(&mut self, blocks: &[Frame]) -> bool {
        if blocks.is_empty() {
            return false;
        }
        self.failures.push(blocks.to_vec());
        true
    }

    /// Past the last step every block is left (a rescue that compiled to
    /// no step still rescues): whether the host ends failed.
    pub(crate) fn end(&mut self) -> bool {
        self.next(&[]);
        self.failing()
    }
}

/// Whether a failure of a step in `blocks` will be rescued: some block it
/// is in has a `rescue` and the step is in that block's `block:` section
/// (a failure in a rescue or an always goes past that block's rescue).
pub(crate) fn rescued(blocks: &[Frame]) -> bool {
    blocks.iter().any(|f| f.part == Part::Block && f.rescue)
}

/// The next step (in `step`) of a host whose failure is at `failure`:
/// what the host does with it. `failure` loses the blocks it leaves.
fn after_failure(failure: &mut Vec<Frame>, step: &[Frame]) -> Meets {
    let shared = failure
        .iter()
        .zip(step)
        .take_while(|(f, s)| f.block == s.block)
        .count();
    // Blocks the failure was in and the step is not: they are over. The
    // innermost with a rescue whose `block:` failed has rescued it (its
    // rescue had no step here: an empty loop, a `when` that compiled away).
    while failure.len() > shared {
        let left = failure.pop().expect("longer than shared");
        if left.part == Part::Block && left.rescue {
            return Meets::Rescued(None);
        }
    }
    let Some(inner) = failure.last() else {
        return Meets::Stop;
    };
    match (inner.part, step[shared - 1].part) {
        (Part::Block, Part::Rescue) => Meets::Rescued(Some(inner.block)),
        (Part::Block, Part::Always) if inner.rescue => Meets::Rescued(None),
        (Part::Block | Part::Rescue, Part::Always) => Meets::Run,
        _ => Meets::Skip,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(block: usize, part: Part, rescue: bool) -> Frame {
        Frame {
            block,
            part,
            rescue,
        }
    }

    /// Walks steps written as frames, with the steps that fail: the indices
    /// that ran, and whether the host ended failed.
    fn walk(steps: &[Vec<Frame>], fails: &[usize]) -> (Vec<usize>, bool) {
        let mut ran = Vec::new();
        let mut blocks = Blocks::default();
        for (i, step) in steps.iter().enumerate() {
            match blocks.next(step) {
                Next::Stop => return (ran, true),
                Next::Skip => continue,
                Next::Run => {}
            }
            ran.push(i);
            if fails.contains(&i) && !blocks.fail(step) {
                return (ran, true);
            }
        }
        (ran, blocks.end())
    }

    const B: Part = Part::Block;
    const R: Part = Part::Rescue;
    const A: Part = Part::Always;

    #[test]
    fn a_failure_in_a_block_runs_its_rescue_then_its_always_and_the_host_goes_on() {
        let steps = vec![
            vec![frame(0, B, true)],
            vec![frame(0, B, true)],
            vec![frame(0, R, true)],
            vec![frame(0, A, true)],
            vec![],
        ];
        assert_eq!(walk(&steps, &[0]), (vec![0, 2, 3, 4], false));
        assert_eq!(walk(&steps, &[]), (vec![0, 1, 3, 4], false));
    }

    #[test]
    fn a_failure_without_rescue_runs_the_always_and_stops_the_host() {
        let steps = vec![
            vec![frame(0, B, false)],
            vec![frame(0, B, false)],
            vec![frame(0, A, false)],
            vec![frame(0, A, false)],
            vec![],
        ];
        assert_eq!(walk(&steps, &[0]), (vec![0, 2, 3], true));
    }

    #[test]
    fn a_failed_rescue_runs_the_always_and_stops_the_host() {
        let steps = vec![
            vec![frame(0, B, true)],
            vec![frame(0, R, true)],
            vec![frame(0, R, true)],
            vec![frame(0, A, true)],
            vec![],
        ];
        assert_eq!(walk(&steps, &[0, 1]), (vec![0, 1, 3], true));
    }

    #[test]
    fn a_failure_in_always_skips_the_rest_of_it() {
        let steps = vec![
            vec![frame(0, B, false)],
            vec![frame(0, A, false)],
            vec![frame(0, A, false)],
            vec![],
        ];
        assert_eq!(walk(&steps, &[1]), (vec![0, 1], true));
    }

    #[test]
    fn an_inner_failure_runs_the_inner_always_then_the_outer_rescue() {
        let inner = |part| vec![frame(0, B, true), frame(1, part, false)];
        let steps = vec![
            inner(B),
            inner(B),
            inner(A),
            vec![frame(0, B, true)],
            vec![frame(0, R, true)],
            vec![frame(0, A, true)],
            vec![],
        ];
        assert_eq!(walk(&steps, &[0]), (vec![0, 2, 4, 5, 6], false));
        // The inner always failing too: the outer rescue still runs.
        assert_eq!(walk(&steps, &[0, 2]), (vec![0, 2, 4, 5, 6], false));
    }

    #[test]
    fn an_inner_rescue_keeps_the_outer_block_going() {
        let inner = |part| vec![frame(0, B, false), frame(1, part, true)];
        let steps = vec![
            inner(B),
            inner(R),
            vec![frame(0, B, false)],
            vec![frame(0, A, false)],
        ];
        assert_eq!(walk(&steps, &[0]), (vec![0, 1, 2, 3], false));
    }

    #[test]
    fn a_rescue_that_compiled_to_no_step_still_rescues() {
        // The rescue's only task looped over an empty list.
        let steps = vec![vec![frame(0, B, true)], vec![frame(0, B, true)], vec![]];
        assert_eq!(walk(&steps, &[0]), (vec![0, 2], false));
    }

    #[test]
    fn a_failure_outside_blocks_stops_the_host() {
        let steps = vec![vec![], vec![frame(0, B, true)], vec![frame(0, R, true)]];
        assert_eq!(walk(&steps, &[0]), (vec![0], true));
    }

    #[test]
    fn a_rescue_runs_only_after_a_failure_in_its_block() {
        // always: [block: [..], rescue: [..]] after a block that failed.
        let steps = vec![
            vec![frame(0, B, false)],
            vec![frame(0, A, false), frame(1, B, true)],
            vec![frame(0, A, false), frame(1, R, true)],
            vec![frame(0, A, false)],
        ];
        assert_eq!(walk(&steps, &[0]), (vec![0, 1, 3], true));
        assert_eq!(walk(&steps, &[0, 1]), (vec![0, 1, 2, 3], true));
        assert_eq!(walk(&steps, &[]), (vec![0, 1, 3], false));
    }

    #[test]
    fn which_failures_a_rescue_catches() {
        assert!(rescued(&[frame(0, B, true)]));
        assert!(!rescued(&[frame(0, R, true)]));
        assert!(!rescued(&[frame(0, B, false)]));
        assert!(rescued(&[frame(0, B, true), frame(1, A, false)]));
        assert!(!rescued(&[]));
    }
}
