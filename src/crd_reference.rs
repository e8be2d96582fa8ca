//! Markdown reference of the CRDs, generated from the same schema the API server enforces
//! (`docs/crd-reference.md`; a test fails when it drifts).

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, JSONSchemaProps, JSONSchemaPropsOrArray,
};

use crate::api::all_crds;

/// The whole reference document.
pub fn render() -> String {
    let mut out = String::from(
        "# CRD reference\n\nGenerated from `src/api` by `tlm-operator crds --reference` (`make manifests`); \
         the API server enforces exactly these types, defaults and rules.\n",
    );
    for crd in all_crds() {
        render_crd(&crd, &mut out);
    }
    out
}

fn render_crd(crd: &CustomResourceDefinition, out: &mut String) {
    let names = &crd.spec.names;
    let version = &crd.spec.versions[0];
    let scope = &crd.spec.scope;
    out.push_str(&format!(
        "\n## {} (`{}/{}`, {scope}{})\n\n",
        names.kind,
        crd.spec.group,
        version.name,
        names
            .short_names
            .as_ref()
            .map(|s| format!(", short name `{}`", s.join("`, `")))
            .unwrap_or_default()
    ));
    let Some(schema) = version
        .schema
        .as_ref()
        .and_then(|s| s.open_api_v3_schema.as_ref())
    else {
        return;
    };
    if let Some(d) = &schema.description {
        out.push_str(&format!("{d}\n\n"));
    }
    let props = schema.properties.clone().unwrap_or_default();
    for part in ["spec", "status"] {
        let Some(p) = props.get(part) else { continue };
        out.push_str(&format!(
            "### `{part}`\n\n| field | type | default | description and rules |\n| --- | --- | --- | --- |\n"
        ));
        rules_row(part, p, out);
        walk(part, p, out);
        out.push('\n');
    }
}

fn walk(path: &str, schema: &JSONSchemaProps, out: &mut String) {
    let required = schema.required.clone().unwrap_or_default();
    for (name, child) in schema.properties.clone().unwrap_or_default() {
        let field = format!("{path}.{name}");
        let req = if required.contains(&name) {
            " (required)"
        } else {
            ""
        };
        out.push_str(&format!(
            "| `{field}`{req} | {} | {} | {} |\n",
            type_of(&child),
            child
                .default
                .as_ref()
                .map(|d| format!("`{}`", d.0))
                .unwrap_or_default(),
            cell(&describe(&child))
        ));
        walk(&field, &child, out);
        if let Some(JSONSchemaPropsOrArray::Schema(items)) = &child.items
            && items.properties.is_some()
        {
            walk(&format!("{field}[]"), items, out);
        }
    }
}

/// Object-level CEL rules (they apply to the whole object, not one field).
fn rules_row(path: &str, schema: &JSONSchemaProps, out: &mut String) {
    let messages: Vec<String> = schema
        .x_kubernetes_validations
        .iter()
        .flatten()
        .map(|r| r.message.clone().unwrap_or_else(|| r.rule.clone()))
        .collect();
    if !messages.is_empty() {
        out.push_str(&format!(
            "| `{path}` | object | | {} |\n",
            cell(&format!("Rules: {}", messages.join("; ")))
        ));
    }
}

fn type_of(schema: &JSONSchemaProps) -> String {
    match (schema.type_.as_deref(), &schema.items) {
        (Some("array"), Some(JSONSchemaPropsOrArray::Schema(items))) => {
            format!("[]{}", items.type_.as_deref().unwrap_or("object"))
        }
        (Some(t), _) => t.to_string(),
        (None, _) => "object".to_string(),
    }
}

fn describe(schema: &JSONSchemaProps) -> String {
    let mut parts = vec![schema.description.clone().unwrap_or_default()];
    if let Some(values) = &schema.enum_ {
        parts.push(format!(
            "One of: {}.",
            values
                .iter()
                .map(|v| format!("`{}`", v.0))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if let Some(JSONSchemaPropsOrArray::Schema(items)) = &schema.items
        && let Some(values) = &items.enum_
    {
        parts.push(format!(
            "Items: {}.",
            values
                .iter()
                .map(|v| format!("`{}`", v.0))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let bounds = [
        schema.min_length.map(|v| format!("min length {v}")),
        schema.max_length.map(|v| format!("max length {v}")),
        schema.min_items.map(|v| format!("min items {v}")),
        schema.max_items.map(|v| format!("max items {v}")),
        schema.minimum.map(|v| format!("minimum {v}")),
        schema.maximum.map(|v| format!("maximum {v}")),
    ];
    let bounds: Vec<String> = bounds.into_iter().flatten().collect();
    if !bounds.is_empty() {
        parts.push(format!("({}).", bounds.join(", ")));
    }
    let rules: Vec<String> = schema
        .x_kubernetes_validations
        .iter()
        .flatten()
        .map(|r| r.message.clone().unwrap_or_else(|| r.rule.clone()))
        .collect();
    if !rules.is_empty() {
        parts.push(format!("Rules: {}.", rules.join("; ")));
    }
    parts.retain(|p| !p.is_empty());
    parts.join(" ")
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}
