//! `{{name}}` placeholder substitution for custom webhook bodies (e.g. a Slack or Teams payload).

/// Replaces each `{{name}}` with its value; unknown placeholders are left as they are so mistakes show.
pub fn render(template: &str, values: &[(&str, String)]) -> String {
    values.iter().fold(template.to_owned(), |body, (name, value)| body.replace(&format!("{{{{{name}}}}}"), value))
}

/// Text made safe to sit inside a JSON string literal of a template.
pub fn json_text(text: &str) -> String {
    let quoted = serde_json::Value::String(text.to_owned()).to_string();
    quoted[1..quoted.len() - 1].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitutes_known_placeholders_only() {
        let body = render(
            r#"{"text":"{{summary}}","n":{{attempt}},"x":"{{nope}}"}"#,
            &[("summary", json_text("disk \"full\"\n")), ("attempt", "2".into())],
        );
        assert_eq!(body, r#"{"text":"disk \"full\"\n","n":2,"x":"{{nope}}"}"#);
    }
}
