//! XML on the test side: an XML-RPC document read into a canonical one-line form, so a check
//! compares texts and shows what it got in a message: `string:HELLO`, `int:5`, `[a,b]` for
//! arrays, `{name=value,…}` (members sorted) for structs, `fault {…}` for a fault response.

use quick_xml::events::Event;

// ---------------------------------------------------------------------------------------------
// Reading a document.

/// An element with its children and text; attributes do not matter in XML-RPC.
struct Element {
    name: String,
    children: Vec<Element>,
    text: String,
}

/// Reads a document into its root element; an error says what is wrong with it.
fn parse_xml(body: &[u8]) -> Result<Element, String> {
    let text = std::str::from_utf8(body).map_err(|_| "is not UTF-8".to_string())?;
    let mut reader = quick_xml::Reader::from_str(text);
    let mut open: Vec<Element> = Vec::new();
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("is not well-formed XML ({e}): {text:.200}"))?;
        let element = |name: &[u8]| Element {
            name: String::from_utf8_lossy(name).to_string(),
            children: Vec::new(),
            text: String::new(),
        };
        let closed = match event {
            Event::Start(tag) => {
                open.push(element(tag.local_name().as_ref().as_bytes()));
                None
            }
            Event::Empty(tag) => Some(element(tag.local_name().as_ref().as_bytes())),
            Event::End(_) => open.pop(),
            Event::Text(t) => {
                if let Some(e) = open.last_mut() {
                    e.text.push_str(&t.xml10_content());
                }
                None
            }
            Event::CData(t) => {
                if let Some(e) = open.last_mut() {
                    e.text.push_str(&t.xml10_content());
                }
                None
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    _ => quick_xml::escape::resolve_predefined_entity(&r)
                        .ok_or_else(|| format!("uses an unknown entity &{};", &*r))?
                        .to_string(),
                };
                if let Some(e) = open.last_mut() {
                    e.text.push_str(&resolved);
                }
                None
            }
            Event::Eof => return Err(format!("ends before its root element closes: {text:.200}")),
            _ => None,
        };
        if let Some(done) = closed {
            match open.last_mut() {
                Some(parent) => parent.children.push(done),
                None => return Ok(done),
            }
        }
    }
}

impl Element {
    /// The first child called `name`.
    fn child(&self, name: &str) -> Result<&Element, String> {
        self.children
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| format!("<{}> has no <{name}>", self.name))
    }
}

/// The canonical form of a `<value>`: untyped text is a string.
fn canon_value(value: &Element) -> Result<String, String> {
    let Some(typed) = value.children.first() else {
        return Ok(format!("string:{}", value.text));
    };
    Ok(match typed.name.as_str() {
        "array" => {
            let items: Result<Vec<String>, String> = typed
                .child("data")?
                .children
                .iter()
                .map(canon_value)
                .collect();
            format!("[{}]", items?.join(","))
        }
        "struct" => {
            let mut members = Vec::new();
            for m in &typed.children {
                members.push(format!(
                    "{}={}",
                    m.child("name")?.text,
                    canon_value(m.child("value")?)?
                ));
            }
            members.sort();
            format!("{{{}}}", members.join(","))
        }
        "i4" => format!("int:{}", typed.text.trim()),
        "string" => format!("string:{}", typed.text),
        other => format!("{other}:{}", typed.text.trim()),
    })
}

/// The canonical form of a `<methodResponse>` body: its one value, or `fault {…}`.
pub(super) fn canon_response(body: &[u8]) -> Result<String, String> {
    let root = parse_xml(body)?;
    if root.name != "methodResponse" {
        return Err(format!(
            "should be a <methodResponse>, is a <{}>",
            root.name
        ));
    }
    if let Ok(fault) = root.child("fault") {
        return Ok(format!("fault {}", canon_value(fault.child("value")?)?));
    }
    canon_value(root.child("params")?.child("param")?.child("value")?)
}

/// A call as the stand-in server sees it: the method name and canonical params.
pub(super) fn canon_call(body: &[u8]) -> Result<(String, Vec<String>), String> {
    let root = parse_xml(body)?;
    if root.name != "methodCall" {
        return Err(format!("should be a <methodCall>, is a <{}>", root.name));
    }
    let method = root.child("methodName")?.text.trim().to_string();
    let mut params = Vec::new();
    if let Ok(list) = root.child("params") {
        for p in &list.children {
            params.push(canon_value(p.child("value")?)?);
        }
    }
    Ok((method, params))
}

// ---------------------------------------------------------------------------------------------
// Comparing canonical forms.

/// Fails, saying `what` was called, unless the canonical response `got` is `want`.
pub(super) fn expect_canon(got: &str, want: &str, what: &str) -> Result<(), String> {
    if got != want {
        return Err(format!("{what}: expected {want}, got {got}"));
    }
    Ok(())
}

/// Checks that a canonical response is a fault `{faultCode=int:N,faultString=string:…}`.
pub(super) fn expect_fault(got: &str, what: &str) -> Result<(), String> {
    let Some(fault) = got.strip_prefix("fault {faultCode=int:") else {
        return Err(format!(
            "{what}: expected a <fault> holding faultCode and faultString, got {got}"
        ));
    };
    let ok = fault
        .split_once(",faultString=string:")
        .is_some_and(|(code, text)| code.parse::<i32>().is_ok() && text.len() > 1);
    if !ok {
        return Err(format!(
            "{what}: the fault should be {{faultCode: int, faultString: non-empty string}}, got {got}"
        ));
    }
    Ok(())
}
