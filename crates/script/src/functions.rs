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
