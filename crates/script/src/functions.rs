//! Function libraries: FUNCTION LOAD's code registers named functions with their flags.

use std::collections::BTreeMap;

use mlua::Function;

use crate::Flags;

/// One registered function.
pub struct FunctionDef {
    pub name: Vec<u8>,
    pub function: Function,
    pub description: Option<Vec<u8>>,
    pub flags: Flags,
    pub library: Vec<u8>,
}

/// One library: its name, its code and its functions.
pub struct Library {
    pub name: Vec<u8>,
    pub code: Vec<u8>,
    pub functions: BTreeMap<Vec<u8>, FunctionDef>,
}

#[derive(Default)]
pub struct Libraries {
    pub libraries: BTreeMap<Vec<u8>, Library>,
    /// Function name → library name.
    pub index: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl Libraries {
    pub fn function(&self, name: &[u8]) -> Option<&FunctionDef> {
        let library = self.index.get(name)?;
        self.libraries.get(library)?.functions.get(name)
    }
}

fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
}

/// Reads `#!lua name=<lib>` of a library's code: its name, or the error reply text.
fn parse_library_shebang(code: &[u8]) -> Result<Vec<u8>, Vec<u8>> {
    if !code.starts_with(b"#!") {
        return Err(b"ERR Missing library metadata".to_vec());
    }
    let end = code.iter().position(|&b| b == b'\n').unwrap_or(code.len());
    let mut parts = code[..end].split(|&b| b == b' ').filter(|p| !p.is_empty());
    let engine = &parts.next().unwrap_or(b"#!")[2..];
    if !engine.eq_ignore_ascii_case(b"lua") {
        let mut text = b"ERR Engine '".to_vec();
        text.extend_from_slice(engine);
        text.extend_from_slice(b"' not found");
        return Err(text);
    }
    let mut name = None;
    for part in parts {
        match part.strip_prefix(b"name=") {
            Some(value) => name = Some(value.to_vec()),
            None => {
                let mut text = b"ERR Invalid metadata value given: ".to_vec();
                text.extend_from_slice(part);
                return Err(text);
            }
        }
    }
    let name = name.ok_or_else(|| b"ERR Library name was not given".to_vec())?;
    if !valid_name(&name) {
        return Err(b"ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long".to_vec());
    }
    Ok(name)
}

impl crate::Engine {
    /// FUNCTION LOAD: compiles and runs a library's code, which registers its functions.
    /// Returns the library's name, or the error reply text.
    pub fn load_library(&mut self, code: &[u8], replace: bool) -> Result<Vec<u8>, Vec<u8>> {
        let name = parse_library_shebang(code)?;
        if !replace && self.libraries.libraries.contains_key(&name) {
            let mut text = b"ERR Library '".to_vec();
            text.extend_from_slice(&name);
            text.extend_from_slice(b"' already exists");
            return Err(text);
        }
        let library = self.compile_library(&name, code)?;
        for function in library.functions.keys() {
            if let Some(owner) = self.libraries.index.get(function) {
                if *owner != name {
                    let mut text = b"ERR Function ".to_vec();
                    text.extend_from_slice(function);
                    text.extend_from_slice(b" already exists");
                    return Err(text);
                }
            }
        }
        self.install(library);
        Ok(name)
    }

    fn install(&mut self, library: Library) {
        self.delete_library(&library.name.clone());
        for function in library.functions.keys() {
            self.libraries
                .index
                .insert(function.clone(), library.name.clone());
        }
        self.libraries
            .libraries
            .insert(library.name.clone(), library);
    }

    /// FUNCTION DELETE: false when there is no such library.
    pub fn delete_library(&mut self, name: &[u8]) -> bool {
        match self.libraries.libraries.remove(name) {
            Some(library) => {
                for function in library.functions.keys() {
                    self.libraries.index.remove(function);
                }
                true
            }
            None => false,
        }
    }

    pub fn flush_libraries(&mut self) {
        self.libraries = Libraries::default();
    }

    fn compile_library(&mut self, name: &[u8], code: &[u8]) -> Result<Library, Vec<u8>> {
        let internal = |e: mlua::Error| format!("ERR {e}").into_bytes();
        let env_maker: mlua::Function = self.hidden.get("library_env").map_err(internal)?;
        let env: mlua::Table = env_maker.call(()).map_err(internal)?;
        let mut body = code.to_vec();
        body[0] = b'-';
        body[1] = b'-';
        let chunk = self
            .lua
            .load(&body[..])
            .set_name("@user_function")
            .set_mode(mlua::ChunkMode::Text)
            .set_environment(env)
            .into_function()
            .map_err(|e| {
                let mut text = b"ERR Error compiling function: ".to_vec();
                text.extend_from_slice(crate::syntax_message(&e).as_bytes());
                text
            })?;
        let runner: mlua::Function = self.hidden.get("run_load").map_err(internal)?;
        let handler: mlua::Function = self.hidden.get("handler").map_err(internal)?;
        let (ok, error): (bool, mlua::Value) = runner.call((chunk, handler)).map_err(internal)?;
        if !ok {
            let mut text = b"ERR Error registering functions: ".to_vec();
            match &error {
                mlua::Value::Table(table) => {
                    text.extend_from_slice(&crate::convert::error_text(table))
                }
                other => text.extend_from_slice(crate::error_message(other).as_bytes()),
            }
            return Err(text);
        }
        let pending: mlua::Table = self.hidden.get("pending").map_err(internal)?;
        let mut functions = BTreeMap::new();
        for entry in pending.sequence_values::<mlua::Table>() {
            let entry = entry.map_err(internal)?;
            let fname: mlua::String = entry.get("name").map_err(internal)?;
            let fname = fname.as_bytes().to_vec();
            if !valid_name(&fname) {
                return Err(b"ERR Function names can only contain letters, numbers, or underscores(_) and must be at least one character long".to_vec());
            }
            if functions.contains_key(&fname) {
                return Err(b"ERR Function already exists in the library".to_vec());
            }
            let mut flags = Flags::default();
            let list: mlua::Table = entry.get("flags").map_err(internal)?;
            for flag in list.sequence_values::<mlua::String>() {
                let flag = flag.map_err(internal)?;
                flags.set(&flag.as_bytes());
            }
            let description: Option<mlua::String> = entry.get("description").map_err(internal)?;
            functions.insert(
                fname.clone(),
                FunctionDef {
                    name: fname,
                    function: entry.get("callback").map_err(internal)?,
                    description: description.map(|d| d.as_bytes().to_vec()),
                    flags,
                    library: name.to_vec(),
                },
            );
        }
        let _ = self.hidden.set("pending", mlua::Value::Nil);
        if functions.is_empty() {
            return Err(b"ERR No functions registered".to_vec());
        }
        Ok(Library {
            name: name.to_vec(),
            code: code.to_vec(),
            functions,
        })
    }

    /// FUNCTION DUMP: every library's code in the server's serialized form (one function
    /// opcode and length-prefixed string per library, then the format version and a CRC64).
    pub fn dump_libraries(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for library in self.libraries.libraries.values() {
            out.push(FUNCTION_OPCODE);
            write_length(&mut out, library.code.len() as u64);
            out.extend_from_slice(&library.code);
        }
        out.extend_from_slice(&DUMP_VERSION.to_le_bytes());
        let crc = crc::Crc::<u64>::new(&crc::CRC_64_REDIS).checksum(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// FUNCTION RESTORE with its policy (`flush`, `append`, `replace`): Ok, or the error text.
    pub fn restore_libraries(&mut self, payload: &[u8], policy: &str) -> Result<(), Vec<u8>> {
        let bad = || b"ERR DUMP payload version or checksum are wrong".to_vec();
        if payload.len() < 10 {
            return Err(bad());
        }
        let (body, footer) = payload.split_at(payload.len() - 10);
        let version = u16::from_le_bytes([footer[0], footer[1]]);
        let crc = u64::from_le_bytes(footer[2..10].try_into().map_err(|_| bad())?);
        let mut checked = body.to_vec();
        checked.extend_from_slice(&footer[..2]);
        if version > DUMP_VERSION
            || (crc != 0 && crc::Crc::<u64>::new(&crc::CRC_64_REDIS).checksum(&checked) != crc)
        {
            return Err(bad());
        }
        let mut codes = Vec::new();
        let mut pos = 0;
        while pos < body.len() {
            if body[pos] != FUNCTION_OPCODE {
                return Err(b"ERR given type is not a function".to_vec());
            }
            pos += 1;
            let len = read_length(body, &mut pos).ok_or_else(bad)? as usize;
            let code = body.get(pos..pos + len).ok_or_else(bad)?;
            codes.push(code.to_vec());
            pos += len;
        }
        let saved = std::mem::take(&mut self.libraries);
        let mut loaded = Vec::new();
        for code in &codes {
            match parse_library_shebang(code).and_then(|name| self.compile_library(&name, code)) {
                Ok(library) => loaded.push(library),
                Err(text) => {
                    self.libraries = saved;
                    return Err(text);
                }
            }
        }
        let mut result = if policy == "flush" {
            Libraries::default()
        } else {
            saved
        };
        let backup_names: Vec<Vec<u8>> = result.libraries.keys().cloned().collect();
        for library in &loaded {
            if policy == "append" && backup_names.contains(&library.name) {
                let mut text = b"ERR Library '".to_vec();
                text.extend_from_slice(&library.name);
                text.extend_from_slice(b"' already exists");
                self.libraries = result;
                return Err(text);
            }
        }
        std::mem::swap(&mut self.libraries, &mut result);
        for library in loaded {
            if policy == "replace" {
                self.delete_library(&library.name.clone());
            }
            for function in library.functions.keys() {
                if let Some(owner) = self.libraries.index.get(function) {
                    if *owner != library.name {
                        let mut text = b"ERR Function ".to_vec();
                        text.extend_from_slice(function);
                        text.extend_from_slice(b" already exists");
                        self.libraries = result;
                        return Err(text);
                    }
                }
            }
            self.install(library);
        }
        Ok(())
    }
}

const FUNCTION_OPCODE: u8 = 245;
const DUMP_VERSION: u16 = 80;

fn write_length(out: &mut Vec<u8>, len: u64) {
    if len < 64 {
        out.push(len as u8);
    } else if len < 16384 {
        out.push(0x40 | (len >> 8) as u8);
        out.push(len as u8);
    } else if len <= u32::MAX as u64 {
        out.push(0x80);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&len.to_be_bytes());
    }
}

fn read_length(data: &[u8], pos: &mut usize) -> Option<u64> {
    let first = *data.get(*pos)?;
    *pos += 1;
    match first >> 6 {
        0 => Some(u64::from(first & 0x3f)),
        1 => {
            let second = *data.get(*pos)?;
            *pos += 1;
            Some((u64::from(first & 0x3f) << 8) | u64::from(second))
        }
        _ if first == 0x80 => {
            let bytes = data.get(*pos..*pos + 4)?;
            *pos += 4;
            Some(u64::from(u32::from_be_bytes(bytes.try_into().ok()?)))
        }
        _ if first == 0x81 => {
            let bytes = data.get(*pos..*pos + 8)?;
            *pos += 8;
            Some(u64::from_be_bytes(bytes.try_into().ok()?))
        }
        _ => None,
    }
}
