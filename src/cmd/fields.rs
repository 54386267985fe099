//! `scry fields`: the field catalog, for people (aligned text) and scripts
//! (JSON Lines).

use std::io::{self, Write};

use scry_analyze::fields::ArgKind;
use scry_analyze::{FIELDS, FieldDef};

use crate::exit::Code;
use crate::output::json_string;

fn argument(def: &FieldDef) -> &'static str {
    match def.arg {
        ArgKind::None => "",
        ArgKind::Param => "NAME|N",
        ArgKind::Ancestor => "N",
        ArgKind::EventType => "TYPE",
    }
}

pub fn run(json: bool) -> anyhow::Result<Code> {
    let mut out = io::stdout().lock();
    let width = FIELDS
        .iter()
        .map(|f| f.name.len() + argument(f).len() + 2)
        .max()
        .unwrap_or(0);
    for def in FIELDS {
        if json {
            writeln!(
                out,
                "{{\"name\":{},\"type\":{},\"argument\":{},\"description\":{}}}",
                json_string(def.name),
                json_string(def.ty.as_str()),
                if def.arg == ArgKind::None {
                    "null".to_owned()
                } else {
                    json_string(argument(def))
                },
                json_string(def.doc)
            )?;
        } else {
            let name = match argument(def) {
                "" => def.name.to_owned(),
                arg => format!("{}[{arg}]", def.name),
            };
            writeln!(out, "{name:<width$}  {:<7} {}", def.ty.as_str(), def.doc)?;
        }
    }
    out.flush()?;
    Ok(Code::Ok)
}
