//! Shorthands for the types the encode tests build.

use crate::model::{ByteOrder, Field, TypeDesc};

pub fn int(size: usize, signed: bool, order: ByteOrder) -> TypeDesc {
    TypeDesc::Int {
        size,
        signed,
        order,
    }
}

pub fn float(size: usize, order: ByteOrder) -> TypeDesc {
    TypeDesc::Float { size, order }
}

pub fn field(name: &str, offset: usize, ty: TypeDesc) -> Field {
    Field {
        name: name.into(),
        offset,
        ty,
    }
}
