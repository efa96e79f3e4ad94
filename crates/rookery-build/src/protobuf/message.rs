//! Messages and enums: the struct, its nested module, and its `ProtoMessage` impl.

use prost_types::{
    DescriptorProto, EnumDescriptorProto, FieldDescriptorProto,
    field_descriptor_proto::{Label, Type},
};

use super::{
    Error, ErrorKind,
    code::Code,
    fields::{Scalar, Snippets, Ty, Wire, key_bytes, write_key},
    generate::FileContext,
    names::{camel, enum_consts, snake, string_literal},
};

/// How a field holds its values.
enum Card {
    /// proto3 singular: a plain value, written when it is not the default.
    Implicit,
    /// proto2 `optional`, proto3 `optional`, and every singular message: an `Option`.
    Optional,
    /// proto2 `required` (not a message): a plain value, always written.
    Required,
    /// `repeated`: a `Vec`.
    Repeated { packed: bool },
    /// `map<K, V>`.
    Map { key: Ty, value: Ty },
    /// A member of the real oneof with this index.
    Oneof(usize),
}

struct Field<'a> {
    desc: &'a FieldDescriptorProto,
    ident: String,
    ty: Ty,
    card: Card,
    path: Vec<i32>,
}

/// One thing written in number order: a field, or a oneof at its lowest number.
enum Item<'a> {
    Field(&'a Field<'a>),
    Oneof(usize),
}

struct Oneof<'a> {
    ident: String,
    type_ident: String,
    fields: Vec<&'a Field<'a>>,
    path: Vec<i32>,
}

impl FileContext<'_> {
    /// A message: its struct, the module of what is nested in it, and its impls.
    pub(crate) fn message(
        &self,
        code: &mut Code,
        msg: &DescriptorProto,
        full: &str,
        module: &[String],
        path: &[i32],
    ) -> Result<(), Error> {
        let info = self.types.get(full);
        if info.map_entry.is_some() {
            return Ok(());
        }
        let ident = info.ident.clone();
        let inner: Vec<String> = module.iter().cloned().chain([snake(msg.name())]).collect();

        let real_oneofs: Vec<usize> = (0..msg.oneof_decl.len())
            .filter(|&i| {
                // A oneof whose fields are all proto3 `optional` is synthetic: each field is
                // an `Option` of its own.
                !msg.field
                    .iter()
                    .filter(|f| f.oneof_index == Some(i as i32))
                    .all(|f| f.proto3_optional())
            })
            .collect();

        let mut fields = Vec::new();
        for (i, f) in msg.field.iter().enumerate() {
            let mut fpath = path.to_vec();
            fpath.extend([2, i as i32]);
            fields.push(self.field(f, full, &real_oneofs, fpath)?);
        }
        let oneofs: Vec<Oneof<'_>> = real_oneofs
            .iter()
            .map(|&i| {
                let mut opath = path.to_vec();
                opath.extend([8, i as i32]);
                Oneof {
                    ident: snake(msg.oneof_decl[i].name()),
                    type_ident: camel(msg.oneof_decl[i].name()),
                    fields: fields
                        .iter()
                        .filter(|f| matches!(f.card, Card::Oneof(o) if o == i))
                        .collect(),
                    path: opath,
                }
            })
            .collect();
        let oneof_of = |index: usize| {
            oneofs
                .iter()
                .position(|o| o.fields.first().map(|f| f.desc.oneof_index()) == Some(index as i32))
        };

        let mut items: Vec<(i32, Item<'_>)> = Vec::new();
        for f in &fields {
            if let Card::Oneof(_) = f.card {
                continue;
            }
            items.push((f.desc.number(), Item::Field(f)));
        }
        for (i, o) in oneofs.iter().enumerate() {
            let min = o.fields.iter().map(|f| f.desc.number()).min().unwrap_or(0);
            items.push((min, Item::Oneof(i)));
        }
        items.sort_by_key(|(n, _)| *n);

        let s = Snippets {
            types: self.types,
            codegen: self.codegen,
            from: module,
        };
        let c = self.codegen;

        // The struct.
        let manual_default = fields
            .iter()
            .any(|f| matches!(f.card, Card::Required) && f.desc.default_value.is_some());
        code.doc(self.comment(path));
        if manual_default {
            code.line("#[derive(Clone, Debug, PartialEq)]");
        } else {
            code.line("#[derive(Clone, Debug, PartialEq, Default)]");
        }
        code.open(format!("pub struct {ident} {{"));
        for f in &fields {
            if let Card::Oneof(_) = f.card {
                continue;
            }
            code.doc(self.comment(&f.path));
            code.line(format!("pub {}: {},", f.ident, self.field_type(&s, f)));
        }
        for o in &oneofs {
            code.doc(self.comment(&o.path));
            code.line(format!(
                "pub {}: ::core::option::Option<{}::{}>,",
                o.ident,
                snake(msg.name()),
                o.type_ident
            ));
        }
        code.close();

        if manual_default {
            code.open(format!("impl ::core::default::Default for {ident} {{"));
            code.open("fn default() -> Self {");
            code.open(format!("{ident} {{"));
            for f in &fields {
                if let Card::Oneof(_) = f.card {
                    continue;
                }
                let value = match (&f.card, &f.desc.default_value) {
                    (Card::Required, Some(text)) => self.default_literal(&s, &f.ty, text, f)?,
                    _ => "::core::default::Default::default()".to_string(),
                };
                code.line(format!("{}: {value},", f.ident));
            }
            for o in &oneofs {
                code.line(format!("{}: None,", o.ident));
            }
            code.close();
            code.close();
            code.close();
        }

        self.getters(code, &s, &ident, &fields)?;

        // The encoder and decoder.
        let uses_sizes = fields.iter().any(|f| match (&f.card, &f.ty) {
            (_, Ty::Message { .. }) | (Card::Map { .. }, _) => true,
            (Card::Repeated { packed: true }, ty) => s.fixed_size(ty).is_none(),
            _ => false,
        });
        code.open(format!("impl {c}::ProtoMessage for {ident} {{"));
        let sizes_arg = if uses_sizes { "sizes" } else { "_sizes" };
        code.open(format!(
            "fn size(&self, {sizes_arg}: &mut {c}::ProtoSizes) -> usize {{"
        ));
        if items.is_empty() {
            code.line("0");
        } else {
            code.line("let mut len = 0;");
            for (_, item) in &items {
                match item {
                    Item::Field(f) => self.size_field(code, &s, f),
                    Item::Oneof(i) => self.size_oneof(code, &s, &oneofs[*i], msg),
                }
            }
            code.line("len");
        }
        code.close();
        let w_arg = if items.is_empty() { "_w" } else { "w" };
        code.open(format!(
            "fn write(&self, {w_arg}: &mut {c}::ProtoEncoder<'_>) {{"
        ));
        for (_, item) in &items {
            match item {
                Item::Field(f) => self.write_field(code, &s, f),
                Item::Oneof(i) => self.write_oneof(code, &s, &oneofs[*i], msg),
            }
        }
        code.close();
        code.open(format!(
            "fn merge_field(&mut self, key: u32, d: &mut {c}::ProtoDecoder) -> ::core::result::Result<(), {c}::DecodeError> {{"
        ));
        if fields.is_empty() {
            code.line("d.skip(key)");
        } else {
            code.open("match key >> 3 {");
            for f in &fields {
                let oneof = match f.card {
                    Card::Oneof(i) => oneof_of(i).map(|o| &oneofs[o]),
                    _ => None,
                };
                self.merge_field(code, &s, f, oneof, msg);
            }
            code.line("_ => d.skip(key)?,");
            code.close();
            code.line("Ok(())");
        }
        code.close();
        code.close();

        // What is nested: messages, enums, oneofs.
        let nested_messages: Vec<(usize, &DescriptorProto)> = msg
            .nested_type
            .iter()
            .enumerate()
            .filter(|(_, m)| !m.options.as_ref().is_some_and(|o| o.map_entry()))
            .collect();
        if nested_messages.is_empty() && msg.enum_type.is_empty() && oneofs.is_empty() {
            return Ok(());
        }
        code.line(format!(
            "/// Types nested in [`{ident}`]: its messages, enums and oneofs."
        ));
        code.open(format!("pub mod {} {{", snake(msg.name())));
        let inner_s = Snippets {
            types: self.types,
            codegen: self.codegen,
            from: &inner,
        };
        for (i, nested) in nested_messages {
            let mut npath = path.to_vec();
            npath.extend([3, i as i32]);
            self.message(
                code,
                nested,
                &format!("{full}.{}", nested.name()),
                &inner,
                &npath,
            )?;
        }
        for (i, e) in msg.enum_type.iter().enumerate() {
            let mut epath = path.to_vec();
            epath.extend([4, i as i32]);
            self.enumeration(code, e, &epath);
        }
        for o in &oneofs {
            code.doc(self.comment(&o.path));
            code.line("#[derive(Clone, Debug, PartialEq)]");
            code.open(format!("pub enum {} {{", o.type_ident));
            for f in &o.fields {
                code.doc(self.comment(&f.path));
                code.line(format!(
                    "{}({}),",
                    camel(f.desc.name()),
                    inner_s.rust_type(&f.ty)
                ));
            }
            code.close();
        }
        code.close();
        Ok(())
    }

    fn field<'a>(
        &self,
        f: &'a FieldDescriptorProto,
        container: &str,
        real_oneofs: &[usize],
        path: Vec<i32>,
    ) -> Result<Field<'a>, Error> {
        let ty = self.ty(f, container, path.clone())?;
        let card = if let Some(entry) = self.map_entry(f) {
            let (k, v) = entry;
            Card::Map {
                key: self.ty(&k, container, path.clone())?,
                value: match self.ty(&v, container, path.clone())? {
                    // A map's message values live in the map, never boxed.
                    Ty::Message { name, .. } => Ty::Message { name, boxed: false },
                    other => other,
                },
            }
        } else if f.label() == Label::Repeated {
            let packable = matches!(ty, Ty::Enum(_))
                || matches!(f.r#type(), t if Scalar::from_type(t).is_some_and(|s| !matches!(s, Scalar::String | Scalar::Bytes)));
            let explicit = f.options.as_ref().and_then(|o| o.packed);
            let packed = packable && explicit.unwrap_or(self.proto3);
            Card::Repeated { packed }
        } else if let Some(i) = f
            .oneof_index
            .filter(|i| real_oneofs.contains(&(*i as usize)))
        {
            Card::Oneof(i as usize)
        } else if matches!(ty, Ty::Message { .. }) || f.proto3_optional() {
            Card::Optional
        } else if self.proto3 {
            Card::Implicit
        } else if f.label() == Label::Required {
            Card::Required
        } else {
            Card::Optional
        };
        // A message in a Vec is already behind a pointer.
        let ty = match (ty, &card) {
            (Ty::Message { name, .. }, Card::Repeated { .. }) => Ty::Message { name, boxed: false },
            (ty, _) => ty,
        };
        Ok(Field {
            desc: f,
            ident: snake(f.name()),
            ty,
            card,
            path,
        })
    }

    fn map_entry(
        &self,
        f: &FieldDescriptorProto,
    ) -> Option<(FieldDescriptorProto, FieldDescriptorProto)> {
        if f.label() != Label::Repeated || f.r#type() != Type::Message {
            return None;
        }
        self.types
            .contains(f.type_name())
            .then(|| self.types.get(f.type_name()).map_entry.clone())
            .flatten()
    }

    fn ty(&self, f: &FieldDescriptorProto, container: &str, path: Vec<i32>) -> Result<Ty, Error> {
        Ok(match f.r#type() {
            Type::Enum => Ty::Enum(f.type_name().to_string()),
            Type::Message => Ty::Message {
                name: f.type_name().to_string(),
                boxed: self.types.needs_box(container, f.type_name()),
            },
            Type::Group => {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    format!(
                        "field `{}`: proto2 groups are not supported; use a message field",
                        f.name()
                    ),
                )
                .at(self.location(&path)));
            }
            t => Ty::Scalar(Scalar::from_type(t).expect("scalar")),
        })
    }

    fn field_type(&self, s: &Snippets<'_>, f: &Field<'_>) -> String {
        let t = s.rust_type(&f.ty);
        match &f.card {
            Card::Implicit | Card::Required => t,
            Card::Optional => format!("::core::option::Option<{t}>"),
            Card::Repeated { .. } => format!("::std::vec::Vec<{t}>"),
            Card::Map { key, value } => format!(
                "{}::ProtoMap<{}, {}>",
                self.codegen,
                s.rust_type(key),
                s.rust_type(value)
            ),
            Card::Oneof(_) => unreachable!("oneof members are variants"),
        }
    }

    fn size_field(&self, code: &mut Code, s: &Snippets<'_>, f: &Field<'_>) {
        let key_len = key_bytes(f.desc.number(), s.wire(&f.ty)).len();
        let name = &f.ident;
        match &f.card {
            Card::Implicit => {
                code.open(format!(
                    "if {} {{",
                    s.not_default(&f.ty, &format!("self.{name}"))
                ));
                code.line(format!(
                    "len += {key_len} + {};",
                    s.size(&f.ty, &format!("self.{name}"))
                ));
                code.close();
            }
            Card::Required => {
                code.line(format!(
                    "len += {key_len} + {};",
                    s.size(&f.ty, &format!("self.{name}"))
                ));
            }
            Card::Optional => {
                if s.fixed_size(&f.ty).is_some() {
                    code.open(format!("if self.{name}.is_some() {{"));
                } else {
                    code.open(format!("if let Some(v) = &self.{name} {{"));
                }
                code.line(format!(
                    "len += {key_len} + {};",
                    s.size(&f.ty, &s.by_ref(&f.ty, "v"))
                ));
                code.close();
            }
            Card::Repeated { packed: true } => {
                let key_len = key_bytes(f.desc.number(), Wire::LengthDelimited).len();
                code.open(format!("if !self.{name}.is_empty() {{"));
                match s.fixed_size(&f.ty) {
                    Some(n) => code.line(format!(
                        "len += {key_len} + {}::bytes_len(self.{name}.len() * {n});",
                        self.codegen
                    )),
                    None => {
                        code.line("let slot = sizes.reserve();");
                        code.line(format!(
                            "let data: usize = self.{name}.iter().map(|v| {}).sum();",
                            s.size(&f.ty, &s.by_ref(&f.ty, "v"))
                        ));
                        code.line(format!("len += {key_len} + sizes.set(slot, data);"));
                    }
                }
                code.close();
            }
            Card::Repeated { packed: false } => match s.fixed_size(&f.ty) {
                Some(n) => code.line(format!("len += self.{name}.len() * ({key_len} + {n});")),
                None => {
                    code.open(format!("for v in &self.{name} {{"));
                    code.line(format!(
                        "len += {key_len} + {};",
                        s.size(&f.ty, &s.by_ref(&f.ty, "v"))
                    ));
                    code.close();
                }
            },
            Card::Map { key, value } => {
                let key_len = key_bytes(f.desc.number(), Wire::LengthDelimited).len();
                code.open(format!("for (k, v) in &self.{name} {{"));
                code.line("let slot = sizes.reserve();");
                code.line(format!("let mut entry = {};", self.entry_key_len(s, key)));
                match value {
                    Ty::Message { .. } => {
                        // A message equal to its default (encoded empty) is left out, as prost
                        // leaves out every default value of a map entry.
                        code.line("entry += sizes.map_value(v);");
                    }
                    _ => {
                        let val = s.by_ref(value, "v");
                        code.open(format!("if {} {{", s.not_default(value, &val)));
                        code.line(format!("entry += 1 + {};", s.size(value, &val)));
                        code.close();
                    }
                }
                code.line(format!("len += {key_len} + sizes.set(slot, entry);"));
                code.close();
            }
            Card::Oneof(_) => unreachable!(),
        }
    }

    /// The bytes of a map entry's key field (nothing when the key is the default).
    fn entry_key_len(&self, s: &Snippets<'_>, key: &Ty) -> String {
        let k = s.by_ref(key, "k");
        format!(
            "if {} {{ 1 + {} }} else {{ 0 }}",
            s.not_default(key, &k),
            s.size(key, &k)
        )
    }

    fn write_field(&self, code: &mut Code, s: &Snippets<'_>, f: &Field<'_>) {
        let number = f.desc.number();
        let name = &f.ident;
        let key = write_key(number, s.wire(&f.ty));
        match &f.card {
            Card::Implicit => {
                let val = format!("self.{name}");
                code.open(format!("if {} {{", s.not_default(&f.ty, &val)));
                code.line(&key);
                code.line(s.write(&f.ty, &val));
                code.close();
            }
            Card::Required => {
                code.line(&key);
                code.line(s.write(&f.ty, &format!("self.{name}")));
            }
            Card::Optional => {
                code.open(format!("if let Some(v) = &self.{name} {{"));
                code.line(&key);
                code.line(s.write(&f.ty, &s.by_ref(&f.ty, "v")));
                code.close();
            }
            Card::Repeated { packed: true } => {
                code.open(format!("if !self.{name}.is_empty() {{"));
                code.line(write_key(number, Wire::LengthDelimited));
                match s.fixed_size(&f.ty) {
                    Some(n) => {
                        code.line(format!("w.put_varint((self.{name}.len() * {n}) as u64);"))
                    }
                    None => code.line("w.put_cached_len();"),
                }
                code.open(format!("for v in &self.{name} {{"));
                code.line(s.write(&f.ty, &s.by_ref(&f.ty, "v")));
                code.close();
                code.close();
            }
            Card::Repeated { packed: false } => {
                code.open(format!("for v in &self.{name} {{"));
                code.line(&key);
                code.line(s.write(&f.ty, &s.by_ref(&f.ty, "v")));
                code.close();
            }
            Card::Map { key: kt, value } => {
                code.open(format!("for (k, v) in &self.{name} {{"));
                code.line(write_key(number, Wire::LengthDelimited));
                code.line("let entry = w.put_cached_len();");
                let k = s.by_ref(kt, "k");
                code.line(format!("let key_len = {};", self.entry_key_len(s, kt)));
                code.open("if key_len != 0 {");
                code.line(write_key(1, s.wire(kt)));
                code.line(s.write(kt, &k));
                code.close();
                // The value was measured into the entry only when it is not the default.
                code.open("if entry != key_len {");
                code.line(write_key(2, s.wire(value)));
                code.line(s.write(value, &s.by_ref(value, "v")));
                code.close();
                code.close();
            }
            Card::Oneof(_) => unreachable!(),
        }
    }

    fn size_oneof(&self, code: &mut Code, s: &Snippets<'_>, o: &Oneof<'_>, msg: &DescriptorProto) {
        code.open(format!("match &self.{} {{", o.ident));
        for f in &o.fields {
            let key_len = key_bytes(f.desc.number(), s.wire(&f.ty)).len();
            let binding = if s.fixed_size(&f.ty).is_some() {
                "_"
            } else {
                "v"
            };
            code.line(format!(
                "Some({}::{}::{}({binding})) => len += {key_len} + {},",
                snake(msg.name()),
                o.type_ident,
                camel(f.desc.name()),
                s.size(&f.ty, &s.by_ref(&f.ty, "v"))
            ));
        }
        code.line("None => {}");
        code.close();
    }

    fn write_oneof(&self, code: &mut Code, s: &Snippets<'_>, o: &Oneof<'_>, msg: &DescriptorProto) {
        code.open(format!("match &self.{} {{", o.ident));
        for f in &o.fields {
            code.open(format!(
                "Some({}::{}::{}(v)) => {{",
                snake(msg.name()),
                o.type_ident,
                camel(f.desc.name())
            ));
            code.line(write_key(f.desc.number(), s.wire(&f.ty)));
            code.line(s.write(&f.ty, &s.by_ref(&f.ty, "v")));
            code.close();
        }
        code.line("None => {}");
        code.close();
    }

    fn merge_field(
        &self,
        code: &mut Code,
        s: &Snippets<'_>,
        f: &Field<'_>,
        oneof: Option<&Oneof<'_>>,
        msg: &DescriptorProto,
    ) {
        let c = self.codegen;
        let name = &f.ident;
        let expect = |wire: Wire| format!("d.expect(key, {c}::ProtoWireType::{})?;", wire.name());
        code.open(format!("{} => {{", f.desc.number()));
        match (&f.card, &f.ty) {
            (Card::Oneof(_), ty) => {
                let o = oneof.expect("oneof of a member");
                let variant = format!(
                    "{}::{}::{}",
                    snake(msg.name()),
                    o.type_ident,
                    camel(f.desc.name())
                );
                code.line(expect(s.wire(ty)));
                match ty {
                    Ty::Message { .. } => {
                        // The same message twice is merged; another member is replaced.
                        code.open(format!("match &mut self.{} {{", o.ident));
                        code.line(format!("Some({variant}(m)) => d.merge_message(m)?,"));
                        code.open("_ => {");
                        code.line("let mut m = ::core::default::Default::default();");
                        code.line("d.merge_message(&mut m)?;");
                        code.line(format!("self.{} = Some({variant}(m));", o.ident));
                        code.close();
                        code.close();
                    }
                    ty => code.line(format!(
                        "self.{} = Some({variant}({}));",
                        o.ident,
                        s.read(ty)
                    )),
                }
            }
            (Card::Implicit | Card::Required, ty) => {
                code.line(expect(s.wire(ty)));
                code.line(format!("self.{name} = {};", s.read(ty)));
            }
            (Card::Optional, Ty::Message { .. }) => {
                code.line(expect(Wire::LengthDelimited));
                code.line(format!(
                    "d.merge_message(self.{name}.get_or_insert_with(::core::default::Default::default))?;"
                ));
            }
            (Card::Optional, ty) => {
                code.line(expect(s.wire(ty)));
                code.line(format!("self.{name} = Some({});", s.read(ty)));
            }
            (Card::Repeated { .. }, Ty::Message { .. }) => {
                code.line(expect(Wire::LengthDelimited));
                code.line(format!("self.{name}.push(d.read_message()?);"));
            }
            (Card::Repeated { .. }, ty) if s.packable(ty) => {
                // Packed and unpacked are both accepted, whatever the schema says.
                let (read, min) = s.read_packed(ty);
                code.open(format!(
                    "if key & 7 == {c}::ProtoWireType::LengthDelimited as u32 {{"
                ));
                code.line(format!("d.read_packed(&mut self.{name}, {min}, {read})?;"));
                code.middle("} else {");
                code.line(expect(s.wire(ty)));
                code.line(format!("self.{name}.push({});", s.read(ty)));
                code.close();
            }
            (Card::Repeated { .. }, ty) => {
                code.line(expect(s.wire(ty)));
                code.line(format!("self.{name}.push({});", s.read(ty)));
            }
            (Card::Map { key, value }, _) => {
                code.line(expect(Wire::LengthDelimited));
                code.line(format!(
                    "let mut k: {} = ::core::default::Default::default();",
                    s.rust_type(key)
                ));
                code.line(format!(
                    "let mut v: {} = ::core::default::Default::default();",
                    s.rust_type(value)
                ));
                code.open("d.read_entry(|d, key| {");
                code.open("match key >> 3 {");
                code.line(format!(
                    "1 => {{ {} k = {}; }}",
                    expect(s.wire(key)),
                    s.read(key)
                ));
                match value {
                    Ty::Message { .. } => code.line(format!(
                        "2 => {{ {} d.merge_message(&mut v)?; }}",
                        expect(Wire::LengthDelimited)
                    )),
                    value => code.line(format!(
                        "2 => {{ {} v = {}; }}",
                        expect(s.wire(value)),
                        s.read(value)
                    )),
                }
                code.line("_ => d.skip(key)?,");
                code.close();
                code.line("Ok(())");
                code.close_with("})?;");
                code.line(format!("self.{name}.insert(k, v);"));
            }
        }
        code.close();
    }

    /// Accessors of `Option` scalar fields that give the declared default (or the type's)
    /// when the field is absent, as prost generates.
    fn getters(
        &self,
        code: &mut Code,
        s: &Snippets<'_>,
        ident: &str,
        fields: &[Field<'_>],
    ) -> Result<(), Error> {
        let optional: Vec<&Field<'_>> = fields
            .iter()
            .filter(|f| matches!(f.card, Card::Optional) && !matches!(f.ty, Ty::Message { .. }))
            .collect();
        if optional.is_empty() {
            return Ok(());
        }
        code.open(format!("impl {ident} {{"));
        for f in optional {
            let name = &f.ident;
            let default = match &f.desc.default_value {
                Some(text) => Some(self.default_literal(s, &f.ty, text, f)?),
                None => None,
            };
            code.line(format!(
                "/// The value of `{}`, or its default{} when it is absent.",
                f.desc.name(),
                if default.is_some() {
                    " from the `.proto`"
                } else {
                    ""
                }
            ));
            match &f.ty {
                Ty::Scalar(Scalar::String) => {
                    let d = match &f.desc.default_value {
                        Some(t) => string_literal(t),
                        None => "\"\"".into(),
                    };
                    code.line(format!(
                        "pub fn {name}(&self) -> &str {{ self.{name}.as_deref().unwrap_or({d}) }}"
                    ));
                }
                Ty::Scalar(Scalar::Bytes) => {
                    let d = match &f.desc.default_value {
                        Some(t) => format!("b{}", byte_string_literal(&unescape_c(t))),
                        None => "b\"\"".into(),
                    };
                    code.line(format!(
                        "pub fn {name}(&self) -> &[u8] {{ self.{name}.as_deref().unwrap_or({d}) }}"
                    ));
                }
                ty => {
                    let d = default.unwrap_or_else(|| match ty {
                        Ty::Enum(e) => format!("{}::default()", s.rust_type(&Ty::Enum(e.clone()))),
                        _ => "::core::default::Default::default()".into(),
                    });
                    code.line(format!(
                        "pub fn {name}(&self) -> {} {{ self.{name}.unwrap_or({d}) }}",
                        s.rust_type(ty)
                    ));
                }
            }
        }
        code.close();
        Ok(())
    }

    /// A Rust expression for a proto2 `[default = …]` of type `ty`.
    fn default_literal(
        &self,
        s: &Snippets<'_>,
        ty: &Ty,
        text: &str,
        f: &Field<'_>,
    ) -> Result<String, Error> {
        let bad = || {
            Error::new(
                ErrorKind::Invalid,
                format!(
                    "field `{}`: default `{text}` does not fit its type",
                    f.desc.name()
                ),
            )
            .at(self.location(&f.path))
        };
        Ok(match ty {
            Ty::Scalar(Scalar::String) => format!(
                "{}::FastStr::from_static_str({})",
                self.codegen,
                string_literal(text)
            ),
            Ty::Scalar(Scalar::Bytes) => format!(
                "{}::Bytes::from_static(b{})",
                self.codegen,
                byte_string_literal(&unescape_c(text))
            ),
            Ty::Scalar(Scalar::Bool) => match text {
                "true" | "false" => text.to_string(),
                _ => return Err(bad()),
            },
            Ty::Scalar(sc @ (Scalar::Float | Scalar::Double)) => {
                let t = if *sc == Scalar::Float { "f32" } else { "f64" };
                match text {
                    "inf" => format!("{t}::INFINITY"),
                    "-inf" => format!("{t}::NEG_INFINITY"),
                    "nan" => format!("{t}::NAN"),
                    _ => {
                        let v: f64 = text.parse().map_err(|_| bad())?;
                        format!("{v:?}{t}")
                    }
                }
            }
            Ty::Scalar(sc) => {
                let t = s.rust_type(&Ty::Scalar(*sc));
                let v: i128 = text.parse().map_err(|_| bad())?;
                format!("{v}{t}")
            }
            Ty::Enum(e) => {
                let path = s.rust_type(&Ty::Enum(e.clone()));
                let consts = self.enum_value_consts(e);
                let c = consts
                    .iter()
                    .find(|(proto, _)| proto == text)
                    .map(|(_, c)| c.clone())
                    .ok_or_else(bad)?;
                format!("{path}::{c}")
            }
            Ty::Message { .. } => return Err(bad()),
        })
    }

    /// An enum's generated constants, by the names of its values.
    fn enum_value_consts(&self, full: &str) -> Vec<(String, String)> {
        let Some(e) = self.find_enum(full) else {
            return Vec::new();
        };
        let names: Vec<&str> = e.value.iter().map(|v| v.name()).collect();
        names
            .iter()
            .map(|n| n.to_string())
            .zip(enum_consts(e.name(), &names))
            .collect()
    }

    /// An enum: an open `i32` newtype with a constant per value, so numbers that the schema
    /// does not name pass through decoding and encoding unchanged.
    pub(crate) fn enumeration(&self, code: &mut Code, e: &EnumDescriptorProto, path: &[i32]) {
        let ident = camel(e.name());
        let names: Vec<&str> = e.value.iter().map(|v| v.name()).collect();
        let consts = enum_consts(e.name(), &names);
        code.doc(self.comment(path));
        code.line("#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]");
        code.line("#[repr(transparent)]");
        code.line(format!("pub struct {ident}(pub i32);"));
        code.open(format!("impl {ident} {{"));
        for (i, (v, c)) in e.value.iter().zip(&consts).enumerate() {
            let mut vpath = path.to_vec();
            vpath.extend([2, i as i32]);
            match self.comment(&vpath) {
                Some(doc) => code.doc(Some(doc)),
                None => code.line(format!("/// `{}` = {}.", v.name(), v.number())),
            }
            code.line(format!("pub const {c}: {ident} = {ident}({});", v.number()));
        }
        code.line("/// The name the `.proto` gives this value, if it names it.");
        code.open("pub fn as_str_name(&self) -> ::core::option::Option<&'static str> {");
        code.open("match self.0 {");
        let mut seen = std::collections::HashSet::new();
        for v in &e.value {
            // With `allow_alias`, the first name of a number is its name.
            if seen.insert(v.number()) {
                code.line(format!(
                    "{} => Some({}),",
                    v.number(),
                    string_literal(v.name())
                ));
            }
        }
        code.line("_ => None,");
        code.close();
        code.close();
        code.line("/// The value the `.proto` names `name`.");
        code.open("pub fn from_str_name(name: &str) -> ::core::option::Option<Self> {");
        code.open("match name {");
        for (v, c) in e.value.iter().zip(&consts) {
            code.line(format!(
                "{} => Some({ident}::{c}),",
                string_literal(v.name())
            ));
        }
        code.line("_ => None,");
        code.close();
        code.close();
        code.line("/// Whether the `.proto` names this value.");
        code.open("pub fn is_known(&self) -> bool {");
        code.line("self.as_str_name().is_some()");
        code.close();
        code.close();
        code.open(format!("impl ::core::default::Default for {ident} {{"));
        code.line("/// The first value the `.proto` declares (0 in proto3).");
        code.open("fn default() -> Self {");
        match consts.first() {
            Some(c) => code.line(format!("{ident}::{c}")),
            None => code.line(format!("{ident}(0)")),
        }
        code.close();
        code.close();
        code.open(format!("impl ::core::fmt::Debug for {ident} {{"));
        code.open("fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {");
        code.open("match self.as_str_name() {");
        code.line("Some(name) => f.write_str(name),");
        code.line(format!("None => write!(f, \"{ident}({{}})\", self.0),"));
        code.close();
        code.close();
        code.close();
        code.open(format!("impl ::core::convert::From<i32> for {ident} {{"));
        code.line(format!("fn from(n: i32) -> Self {{ {ident}(n) }}"));
        code.close();
        code.open(format!("impl ::core::convert::From<{ident}> for i32 {{"));
        code.line(format!("fn from(e: {ident}) -> i32 {{ e.0 }}"));
        code.close();
    }
}

/// The bytes a C-escaped string (a `bytes` default in a descriptor) stands for.
fn unescape_c(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        i += 1;
        if b != b'\\' || i >= bytes.len() {
            out.push(b);
            continue;
        }
        let e = bytes[i];
        i += 1;
        match e {
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'a' => out.push(7),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'v' => out.push(11),
            b'x' | b'X' => {
                let mut v = 0u32;
                let mut n = 0;
                while n < 2 && i < bytes.len() && bytes[i].is_ascii_hexdigit() {
                    v = v * 16 + (bytes[i] as char).to_digit(16).unwrap_or(0);
                    i += 1;
                    n += 1;
                }
                out.push(v as u8);
            }
            b'0'..=b'7' => {
                let mut v = u32::from(e - b'0');
                let mut n = 1;
                while n < 3 && i < bytes.len() && (b'0'..=b'7').contains(&bytes[i]) {
                    v = v * 8 + u32::from(bytes[i] - b'0');
                    i += 1;
                    n += 1;
                }
                out.push(v as u8);
            }
            other => out.push(other),
        }
    }
    out
}

/// A `"…"` literal (to be prefixed with `b`) for arbitrary bytes.
fn byte_string_literal(bytes: &[u8]) -> String {
    let mut s = String::from("\"");
    for &b in bytes {
        match b {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s.push('"');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_escapes() {
        assert_eq!(unescape_c(r"a\n\x41\101\\\'"), b"a\nAA\\'");
        assert_eq!(byte_string_literal(b"a\"\x00"), r#""a\"\x00""#);
    }
}
