//! `debug`: shows a message or a variable, on the controller.

use super::{Action, Args};
use crate::diagnostic::Diagnostic;

pub const KEYS: &[&str] = &["msg", "var"];

pub fn debug(args: &Args) -> Result<Action, Diagnostic> {
    let msg = match (
        args.string("_raw")?.or(args.string("msg")?),
        args.string("var")?,
    ) {
        (Some(msg), None) => msg,
        (None, Some(var)) => {
            let value = (args.cx.lookup)(&var)
                .ok_or_else(|| args.error(format!("undefined variable `{var}`")))?;
            format!("{var} = {value}")
        }
        (None, None) => "Hello world!".to_string(),
        (Some(_), Some(_)) => {
            return Err(args.error("give `debug` either `msg` or `var`, not both"));
        }
    };
    Ok(Action::Debug { msg })
}
