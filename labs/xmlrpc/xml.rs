//! XML-RPC values and messages as XML documents: shared by the server and the client.
//!
//! This part is given. XML is not the lesson of this lab (HTTP is), so the parsing is done by
//! the quick-xml crate and this file only maps its elements onto XML-RPC's:
//!
//!     <methodCall><methodName>echo</methodName>
//!       <params><param><value><string>hello</string></value></param></params></methodCall>
//!
//!     <methodResponse><params><param><value>…</value></param></params></methodResponse>
//!     <methodResponse><fault><value><struct>faultCode, faultString</struct></value></fault>
//!     </methodResponse>
//!
//! Every function that reads XML returns an error for anything unexpected, never panics: the
//! bytes come from the network.

// Each program uses its own part of this file: the server decodes calls, the client responses.
#![allow(dead_code)]

use base64::Engine;
use quick_xml::escape::{escape, resolve_predefined_entity};
use quick_xml::events::Event;
use quick_xml::Reader;
use std::fmt;

/// Elements nested deeper than this are refused: a 1 MiB body could otherwise nest arrays deep
/// enough to overflow the stack of the thread that decodes it.
const MAX_DEPTH: usize = 64;

/// Fault codes from the XML-RPC "fault code interoperability" convention.
pub const NOT_WELL_FORMED: i32 = -32700;
pub const INVALID_REQUEST: i32 = -32600;
pub const METHOD_NOT_FOUND: i32 = -32601;
pub const INVALID_PARAMS: i32 = -32602;

/// One XML-RPC value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i32),
    Bool(bool),
    Str(String),
    Double(f64),
    /// Kept as its text, such as `19980717T14:08:55`.
    DateTime(String),
    Base64(Vec<u8>),
    Array(Vec<Value>),
    /// Members in the order they came.
    Struct(Vec<(String, Value)>),
}

impl Value {
    /// The XML-RPC name of the value's type, for fault messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Int(_) => "int",
            Value::Bool(_) => "boolean",
            Value::Str(_) => "string",
            Value::Double(_) => "double",
            Value::DateTime(_) => "dateTime.iso8601",
            Value::Base64(_) => "base64",
            Value::Array(_) => "array",
            Value::Struct(_) => "struct",
        }
    }

    /// The member `name` of a struct.
    pub fn member(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Struct(members) => members.iter().find(|(n, _)| n == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Appends `<value>…</value>` to `out`.
    fn write(&self, out: &mut String) {
        out.push_str("<value>");
        match self {
            Value::Int(i) => out.push_str(&format!("<int>{i}</int>")),
            Value::Bool(b) => out.push_str(&format!("<boolean>{}</boolean>", u8::from(*b))),
            Value::Str(s) => out.push_str(&format!("<string>{}</string>", escape(s.as_str()))),
            Value::Double(d) => out.push_str(&format!("<double>{d}</double>")),
            Value::DateTime(t) => out.push_str(&format!(
                "<dateTime.iso8601>{}</dateTime.iso8601>",
                escape(t.as_str())
            )),
            Value::Base64(bytes) => out.push_str(&format!(
                "<base64>{}</base64>",
                base64::engine::general_purpose::STANDARD.encode(bytes)
            )),
            Value::Array(items) => {
                out.push_str("<array><data>");
                for item in items {
                    item.write(out);
                }
                out.push_str("</data></array>");
            }
            Value::Struct(members) => {
                out.push_str("<struct>");
                for (name, value) in members {
                    out.push_str(&format!("<member><name>{}</name>", escape(name.as_str())));
                    value.write(out);
                    out.push_str("</member>");
                }
                out.push_str("</struct>");
            }
        }
        out.push_str("</value>");
    }
}

impl fmt::Display for Value {
    /// Strings as they are; other values in a short readable form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(i) => write!(f, "{i}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Str(s) | Value::DateTime(s) => write!(f, "{s}"),
            Value::Double(d) => write!(f, "{d}"),
            Value::Base64(bytes) => write!(f, "<{} bytes>", bytes.len()),
            Value::Array(items) => {
                let items: Vec<String> = items.iter().map(|v| format!("{v:?}")).collect();
                write!(f, "[{}]", items.join(", "))
            }
            Value::Struct(members) => {
                let members: Vec<String> =
                    members.iter().map(|(n, v)| format!("{n}: {v:?}")).collect();
                write!(f, "{{{}}}", members.join(", "))
            }
        }
    }
}

/// An XML-RPC fault: what a method sends back instead of a result when the call fails.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub code: i32,
    pub message: String,
}

impl Fault {
    pub fn new(code: i32, message: impl Into<String>) -> Fault {
        Fault {
            code,
            message: message.into(),
        }
    }

    /// The fault as the struct XML-RPC sends: `{faultCode, faultString}`.
    pub fn to_value(&self) -> Value {
        Value::Struct(vec![
            ("faultCode".into(), Value::Int(self.code)),
            ("faultString".into(), Value::Str(self.message.clone())),
        ])
    }
}

/// A decoded `<methodCall>`.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub method: String,
    pub params: Vec<Value>,
}

/// The body of a request calling `method` with `params`.
pub fn call_xml(method: &str, params: &[Value]) -> String {
    let mut out = String::from("<?xml version=\"1.0\"?>\n<methodCall><methodName>");
    out.push_str(&escape(method));
    out.push_str("</methodName><params>");
    for param in params {
        out.push_str("<param>");
        param.write(&mut out);
        out.push_str("</param>");
    }
    out.push_str("</params></methodCall>\n");
    out
}

/// The body of a response: the result, or a fault.
pub fn response_xml(result: &Result<Value, Fault>) -> String {
    let mut out = String::from("<?xml version=\"1.0\"?>\n<methodResponse>");
    match result {
        Ok(value) => {
            out.push_str("<params><param>");
            value.write(&mut out);
            out.push_str("</param></params>");
        }
        Err(fault) => {
            out.push_str("<fault>");
            fault.to_value().write(&mut out);
            out.push_str("</fault>");
        }
    }
    out.push_str("</methodResponse>\n");
    out
}

/// Decodes a request body. The fault says what is wrong, with the conventional code.
pub fn parse_call(body: &[u8]) -> Result<Call, Fault> {
    let root = parse_tree(body).map_err(|why| Fault::new(NOT_WELL_FORMED, why))?;
    let invalid = |why: String| Fault::new(INVALID_REQUEST, why);
    if root.name != "methodCall" {
        return Err(invalid(format!(
            "expected <methodCall>, found <{}>",
            root.name
        )));
    }
    let name = root
        .child("methodName")
        .ok_or_else(|| invalid("<methodCall> has no <methodName>".into()))?;
    let method = name.text().map_err(invalid)?.trim().to_string();
    if method.is_empty() {
        return Err(invalid("<methodName> is empty".into()));
    }
    let params = match root.child("params") {
        Some(params) => decode_params(params).map_err(invalid)?,
        None => Vec::new(),
    };
    Ok(Call { method, params })
}

/// Decodes a response body: `Ok(Ok(value))`, `Ok(Err(fault))`, or `Err` when it is not a
/// well-formed `<methodResponse>`.
pub fn parse_response(body: &[u8]) -> Result<Result<Value, Fault>, String> {
    let root = parse_tree(body)?;
    if root.name != "methodResponse" {
        return Err(format!("expected <methodResponse>, found <{}>", root.name));
    }
    if let Some(fault) = root.child("fault") {
        let value = fault
            .child("value")
            .ok_or("<fault> has no <value>")
            .map_err(String::from)
            .and_then(decode_value)?;
        return match (value.member("faultCode"), value.member("faultString")) {
            (Some(Value::Int(code)), Some(Value::Str(message))) => {
                Ok(Err(Fault::new(*code, message.clone())))
            }
            _ => Err("the <fault> is not a struct {faultCode: int, faultString: string}".into()),
        };
    }
    let params = root
        .child("params")
        .ok_or("<methodResponse> holds neither <params> nor <fault>")?;
    let mut values = decode_params(params)?;
    if values.len() != 1 {
        return Err(format!(
            "a response holds one <param>, this one {}",
            values.len()
        ));
    }
    Ok(Ok(values.remove(0)))
}

fn decode_params(params: &Element) -> Result<Vec<Value>, String> {
    params
        .elements()
        .map(|param| {
            if param.name != "param" {
                return Err(format!(
                    "<params> may hold only <param>, not <{}>",
                    param.name
                ));
            }
            let value = param.child("value").ok_or("a <param> has no <value>")?;
            decode_value(value)
        })
        .collect()
}

/// Decodes a `<value>` element. Recursion is bounded by `MAX_DEPTH`, checked while parsing.
fn decode_value(value: &Element) -> Result<Value, String> {
    let mut typed = value.elements();
    let Some(inner) = typed.next() else {
        // No type element: the text is a string.
        return Ok(Value::Str(value.text()?));
    };
    if typed.next().is_some() || !value.text_is_blank() {
        return Err("a <value> holds one type element (or only text)".into());
    }
    let text = || inner.text();
    let number = |t: String| t.trim().to_string();
    Ok(match inner.name.as_str() {
        "int" | "i4" => {
            let t = number(text()?);
            Value::Int(t.parse().map_err(|_| {
                format!(
                    "<{}>{t}</{}> is not a 32-bit integer",
                    inner.name, inner.name
                )
            })?)
        }
        "boolean" => match number(text()?).as_str() {
            "0" => Value::Bool(false),
            "1" => Value::Bool(true),
            t => return Err(format!("<boolean>{t}</boolean> is neither 0 nor 1")),
        },
        "string" => Value::Str(text()?),
        "double" => {
            let t = number(text()?);
            match t.parse::<f64>() {
                Ok(d) if d.is_finite() => Value::Double(d),
                _ => return Err(format!("<double>{t}</double> is not a finite number")),
            }
        }
        "dateTime.iso8601" => {
            let t = number(text()?);
            let ok = ["%Y%m%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y%m%dT%H%M%S"]
                .iter()
                .any(|f| chrono::NaiveDateTime::parse_from_str(&t, f).is_ok());
            if !ok {
                return Err(format!(
                    "<dateTime.iso8601>{t}</dateTime.iso8601> is not a date and time"
                ));
            }
            Value::DateTime(t)
        }
        "base64" => {
            let t: String = text()?
                .chars()
                .filter(|c| !c.is_ascii_whitespace())
                .collect();
            Value::Base64(
                base64::engine::general_purpose::STANDARD
                    .decode(t)
                    .map_err(|e| format!("<base64> is not base64 ({e})"))?,
            )
        }
        "array" => {
            let data = inner.child("data").ok_or("an <array> has no <data>")?;
            let items = data.elements().map(|item| {
                if item.name == "value" {
                    decode_value(item)
                } else {
                    Err(format!("<data> may hold only <value>, not <{}>", item.name))
                }
            });
            Value::Array(items.collect::<Result<_, _>>()?)
        }
        "struct" => {
            let mut members = Vec::new();
            for member in inner.elements() {
                let (Some(name), Some(value)) = (member.child("name"), member.child("value"))
                else {
                    return Err("a struct <member> needs a <name> and a <value>".into());
                };
                members.push((name.text()?, decode_value(value)?));
            }
            Value::Struct(members)
        }
        other => {
            return Err(format!(
                "<{other}> is not an XML-RPC type this server knows"
            ))
        }
    })
}

/// An XML element with its children: the tree quick-xml's events describe.
#[derive(Debug)]
struct Element {
    name: String,
    children: Vec<Node>,
}

#[derive(Debug)]
enum Node {
    Element(Element),
    Text(String),
}

impl Element {
    fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|c| match c {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    fn child(&self, name: &str) -> Option<&Element> {
        self.elements().find(|e| e.name == name)
    }

    /// The element's text; an error if it holds elements.
    fn text(&self) -> Result<String, String> {
        let mut text = String::new();
        for child in &self.children {
            match child {
                Node::Text(t) => text.push_str(t),
                Node::Element(e) => {
                    return Err(format!(
                        "<{}> should hold text, not <{}>",
                        self.name, e.name
                    ))
                }
            }
        }
        Ok(text)
    }

    fn text_is_blank(&self) -> bool {
        self.children.iter().all(|c| match c {
            Node::Text(t) => t.trim().is_empty(),
            Node::Element(_) => true,
        })
    }

    fn push_text(&mut self, text: &str) {
        match self.children.last_mut() {
            Some(Node::Text(t)) => t.push_str(text),
            _ => self.children.push(Node::Text(text.to_string())),
        }
    }
}

/// Parses a whole document into its root element, without recursion.
fn parse_tree(body: &[u8]) -> Result<Element, String> {
    let text = std::str::from_utf8(body).map_err(|_| "the body is not UTF-8".to_string())?;
    let mut reader = Reader::from_str(text);
    let mut open: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("malformed XML at byte {}: {e}", reader.error_position()))?;
        let outside = open.is_empty();
        match event {
            Event::Start(_) | Event::Empty(_) if outside && root.is_some() => {
                return Err("more than one root element".into())
            }
            Event::Start(_) if open.len() >= MAX_DEPTH => {
                return Err(format!("elements nested deeper than {MAX_DEPTH}"))
            }
            Event::Start(tag) => open.push(Element {
                name: tag.local_name().as_ref().to_string(),
                children: Vec::new(),
            }),
            Event::Empty(tag) => {
                let element = Element {
                    name: tag.local_name().as_ref().to_string(),
                    children: Vec::new(),
                };
                match open.last_mut() {
                    Some(parent) => parent.children.push(Node::Element(element)),
                    None => root = Some(element),
                }
            }
            Event::End(_) => {
                let element = open.pop().ok_or("an end tag without a start tag")?;
                match open.last_mut() {
                    Some(parent) => parent.children.push(Node::Element(element)),
                    None => root = Some(element),
                }
            }
            Event::Text(t) if outside => {
                if !t.xml10_content().trim().is_empty() {
                    return Err("text outside the root element".into());
                }
            }
            Event::Text(t) => push_text(&mut open, &t.xml10_content()),
            Event::CData(c) => push_text(&mut open, &c.xml10_content()),
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => resolve_predefined_entity(&r)
                        .ok_or_else(|| format!("unknown entity &{};", &*r))?
                        .to_string(),
                    Err(e) => return Err(format!("bad character reference &{};: {e}", &*r)),
                };
                push_text(&mut open, &resolved);
            }
            Event::DocType(_) => return Err("a <!DOCTYPE> is not allowed in XML-RPC".into()),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !open.is_empty() {
        return Err(format!(
            "the document ends inside <{}>",
            open[open.len() - 1].name
        ));
    }
    root.ok_or_else(|| "the body holds no XML element".to_string())
}

fn push_text(open: &mut [Element], text: &str) {
    if let Some(parent) = open.last_mut() {
        parent.push_text(text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_survives_a_round_trip() {
        let value = Value::Array(vec![
            Value::Int(-7),
            Value::Bool(true),
            Value::Str("<a & \"b\"> é".into()),
            Value::Double(2.5),
            Value::DateTime("19980717T14:08:55".into()),
            Value::Base64(vec![0, 1, 254, 255]),
            Value::Struct(vec![(
                "nested".into(),
                Value::Array(vec![Value::Struct(vec![])]),
            )]),
        ]);
        let call = parse_call(call_xml("echo", std::slice::from_ref(&value)).as_bytes()).unwrap();
        assert_eq!(call.method, "echo");
        assert_eq!(call.params, vec![value.clone()]);
        let ok = parse_response(response_xml(&Ok(value.clone())).as_bytes()).unwrap();
        assert_eq!(ok, Ok(value));
        let fault = Fault::new(METHOD_NOT_FOUND, "no such method");
        let back = parse_response(response_xml(&Err(fault.clone())).as_bytes()).unwrap();
        assert_eq!(back, Err(fault));
    }

    #[test]
    fn untyped_values_entities_and_whitespace() {
        let body = "<?xml version='1.0'?>\n<methodCall>\n <methodName> echo </methodName>\n\
            <params><param><value>a &amp; b &#x263A;</value></param>\
            <param><value>\n <i4> 42 </i4>\n</value></param>\
            <param><value><base64>AAEC\n/w==\n</base64></value></param></params></methodCall>";
        let call = parse_call(body.as_bytes()).unwrap();
        assert_eq!(call.method, "echo");
        assert_eq!(
            call.params,
            vec![
                Value::Str("a & b \u{263A}".into()),
                Value::Int(42),
                Value::Base64(vec![0, 1, 2, 255])
            ]
        );
    }

    #[test]
    fn bad_documents_are_faults_not_panics() {
        let deep = "<value><array><data>".repeat(200);
        let cases: [&[u8]; 10] = [
            b"",
            b"\xff\xfe",
            b"<methodCall><methodName>echo</methodName>",
            b"<methodCall><methodName>echo</wrong></methodCall>",
            b"<notACall/>",
            b"<methodCall><params/></methodCall>",
            b"<methodCall><methodName>x</methodName><params><param><value><int>99999999999</int></value></param></params></methodCall>",
            b"<methodCall><methodName>x</methodName><params><param><value><nil/></value></param></params></methodCall>",
            b"<!DOCTYPE x [<!ENTITY a 'b'>]><methodCall/>",
            deep.as_bytes(),
        ];
        for body in cases {
            let fault = parse_call(body).unwrap_err();
            assert!(fault.code < 0 && !fault.message.is_empty(), "{fault:?}");
        }
        assert!(parse_response(b"<methodResponse/>").is_err());
    }
}
