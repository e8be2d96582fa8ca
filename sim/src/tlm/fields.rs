//! Strict reading of JSON request bodies: every key must be known and every value of the type
//! the spec gives it. Errors name the dotted path of the offending field. `null` counts as
//! absent, as DigiCert's own Terraform client sends `"tags": null`.

use serde_json::{Map, Value};

use crate::errors::ApiError;

/// The body as a JSON object; anything else is `invalid_request`.
pub fn body_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid_request("a JSON body is required"));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::invalid_request("the body must be a JSON object")),
        Err(e) => Err(ApiError::invalid_request(format!("the body is not JSON: {e}"))),
    }
}

/// One JSON object of a request, and where it sits in the body.
pub struct Fields<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

/// A field's dotted path (owned, as nested objects build longer ones).
fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn wrong_type(field: String, expected: &str) -> ApiError {
    let message = format!("{field} must be {expected}");
    ApiError::invalid_field(field, message)
}

impl<'a> Fields<'a> {
    pub fn root(map: &'a Map<String, Value>) -> Self {
        Fields {
            map,
            path: String::new(),
        }
    }

    pub fn path(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// Refuses any key not in `allowed`, naming the first unknown one.
    pub fn only(&self, allowed: &[&str]) -> Result<(), ApiError> {
        match self.map.keys().find(|key| !allowed.contains(&key.as_str())) {
            Some(unknown) => {
                let field = self.path(unknown);
                Err(ApiError::invalid_field(
                    field.clone(),
                    format!("unknown field {field}"),
                ))
            }
            None => Ok(()),
        }
    }

    fn present(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|value| !value.is_null())
    }

    fn missing(&self, key: &str) -> ApiError {
        let field = self.path(key);
        ApiError::invalid_field(field.clone(), format!("{field} is required"))
    }

    pub fn object(&self, key: &str) -> Result<Option<Fields<'a>>, ApiError> {
        match self.present(key) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Fields {
                map,
                path: self.path(key),
            })),
            Some(_) => Err(wrong_type(self.path(key), "an object")),
        }
    }

    pub fn required_object(&self, key: &str) -> Result<Fields<'a>, ApiError> {
        self.object(key)?.ok_or_else(|| self.missing(key))
    }

    pub fn string(&self, key: &str) -> Result<Option<&'a str>, ApiError> {
        match self.present(key) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(_) => Err(wrong_type(self.path(key), "a string")),
        }
    }

    /// A string that must be there and not blank.
    pub fn required_string(&self, key: &str) -> Result<&'a str, ApiError> {
        match self.string(key)? {
            Some(text) if !text.trim().is_empty() => Ok(text),
            _ => Err(self.missing(key)),
        }
    }

    pub fn strings(&self, key: &str) -> Result<Option<Vec<String>>, ApiError> {
        match self.present(key) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| item.as_str().map(String::from))
                .collect::<Option<Vec<_>>>()
                .map(Some)
                .ok_or_else(|| wrong_type(self.path(key), "an array of strings")),
            Some(_) => Err(wrong_type(self.path(key), "an array of strings")),
        }
    }

    pub fn bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.present(key) {
            None => Ok(None),
            Some(Value::Bool(value)) => Ok(Some(*value)),
            Some(_) => Err(wrong_type(self.path(key), "a boolean (true or false)")),
        }
    }

    pub fn positive_integer(&self, key: &str) -> Result<Option<u64>, ApiError> {
        match self.present(key) {
            None => Ok(None),
            Some(value) => match value.as_u64() {
                Some(number) if number > 0 => Ok(Some(number)),
                _ => Err(wrong_type(self.path(key), "a positive integer")),
            },
        }
    }

    /// Checks an optional object whose values must all be strings (`attributes.custom_values`).
    pub fn string_map(&self, key: &str) -> Result<(), ApiError> {
        let Some(object) = self.object(key)? else {
            return Ok(());
        };
        match object.map.iter().find(|(_, value)| !value.is_string()) {
            Some((name, _)) => Err(wrong_type(object.path(name), "a string")),
            None => Ok(()),
        }
    }

    /// The raw value, for shapes kept as they came (`san.other_names`).
    pub fn raw_object(&self, key: &str) -> Result<Option<Value>, ApiError> {
        match self.present(key) {
            None => Ok(None),
            Some(value @ Value::Object(_)) => Ok(Some(value.clone())),
            Some(_) => Err(wrong_type(self.path(key), "an object")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => panic!("not an object"),
        }
    }

    #[test]
    fn bodies_must_be_json_objects() {
        for body in [&b""[..], b"  ", b"{not json", b"[1]", b"\"x\""] {
            let error = body_object(body).expect_err("refused");
            assert_eq!(error.code, "invalid_request");
        }
        assert!(body_object(b"{}").is_ok());
    }

    #[test]
    fn errors_name_the_dotted_path() {
        let body = map(json!({"a": {"b": "text", "n": 3, "list": ["x", 1], "flag": "true"}}));
        let root = Fields::root(&body);
        let a = root.required_object("a").expect("object");
        assert_eq!(a.string("b").expect("string"), Some("text"));
        let field = |e: ApiError| e.field.expect("field");
        assert_eq!(field(a.strings("b").expect_err("not an array")), "a.b");
        assert_eq!(field(a.strings("list").expect_err("mixed")), "a.list");
        assert_eq!(field(a.bool("flag").expect_err("a string")), "a.flag");
        assert_eq!(field(a.string("n").expect_err("a number")), "a.n");
        assert_eq!(field(a.only(&["b", "n", "list"]).expect_err("flag")), "a.flag");
        assert_eq!(
            field(a.required_string("missing").expect_err("absent")),
            "a.missing"
        );
        assert_eq!(a.positive_integer("n").expect("integer"), Some(3));
        assert_eq!(field(root.required_object("z").err().expect("absent")), "z");
    }

    #[test]
    fn null_is_absent_and_blank_is_missing() {
        let body = map(json!({"tags": null, "blank": "  ", "zero": 0}));
        let root = Fields::root(&body);
        assert_eq!(root.strings("tags").expect("null"), None);
        assert!(root.required_string("blank").is_err());
        assert!(root.positive_integer("zero").is_err());
    }
}
