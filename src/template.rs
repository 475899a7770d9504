use crate::diagnostic::{Diagnostic, Span};
use serde_json::{Map, Value as Json};
use std::collections::BTreeSet;
#[derive(Default)]
pub struct Templates;
impl Templates {
    pub fn new() -> Templates {
        Templates
    }
    pub fn render(
        &self,
        text: &str,
        _vars: &Map<String, Json>,
        _span: &Span,
    ) -> Result<String, Diagnostic> {
        Ok(text.into())
    }
    pub fn render_value(
        &self,
        text: &str,
        _vars: &Map<String, Json>,
        _span: &Span,
    ) -> Result<Json, Diagnostic> {
        Ok(Json::String(text.into()))
    }
    pub fn eval_bool(
        &self,
        _expr: &str,
        _vars: &Map<String, Json>,
        _span: &Span,
    ) -> Result<bool, Diagnostic> {
        Ok(true)
    }
    pub fn variables(&self, _text: &str) -> BTreeSet<String> {
        BTreeSet::new()
    }
}
