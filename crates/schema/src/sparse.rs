//! Sparse flow streams. A flow batch has about 50 nullable columns (the L7
//! fields, biflow counters, GeoIP) that most batches leave null
//! throughout; on the wire they were 256 of a flow's 399 bytes, copied at
//! every hop. So:
//!
//! - an output leaves out a nullable flow column until a batch has a value
//!   in it; from then on the stream keeps that column (filled with nulls
//!   when a later batch lacks it), so the schema changes once per column
//!   that comes into use, not per batch ([`Thinner`]);
//! - an input puts back, as nulls, the nullable flow columns its module
//!   needs, or every flow column in the flow schema's order for a module
//!   that prints or keeps whole flows ([`Filler`]).
//!
//! Only whole-flow batches (every column of the flow schema that is not
//! nullable) are thinned: alert streams, and flows cut down to chosen
//! fields (`filter -O`), keep every column they have. `:dense` on an
//! output sends every column as it is.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use arrow_array::{new_null_array, Array, ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};

/// Position in the flow schema of each nullable flow column, by name.
fn nullable_flow_columns() -> &'static HashMap<String, usize> {
    static MAP: OnceLock<HashMap<String, usize>> = OnceLock::new();
    MAP.get_or_init(|| {
        crate::flow_schema()
            .fields()
            .iter()
            .enumerate()
            .filter(|(_, f)| f.is_nullable())
            .map(|(i, f)| (f.name().clone(), i))
            .collect()
    })
}

/// A flow column that may be left out of a stream and put back as nulls.
pub fn is_sparse_column(field: &Field) -> bool {
    field.is_nullable()
        && nullable_flow_columns()
            .get(field.name())
            .is_some_and(|&i| crate::flow_schema().field(i).data_type() == field.data_type())
}

/// Whether `schema` holds whole flows: every non-nullable flow column.
pub fn is_whole_flow(schema: &Schema) -> bool {
    crate::flow_schema()
        .fields()
        .iter()
        .filter(|f| !f.is_nullable())
        .all(|f| schema.field_with_name(f.name()).is_ok())
}

/// An all-null array of `len` rows of `data_type`: a slice of one array
/// per type, shared by the whole process, so that a column null throughout
/// a batch costs neither memory nor copies (a null string column made anew
/// is 4 zeroed bytes of offsets per row).
pub fn null_array(data_type: &DataType, len: usize) -> ArrayRef {
    /// Rows of a shared array when first made: a store row group.
    const MIN_ROWS: usize = 1 << 17;
    static SHARED: Mutex<Vec<ArrayRef>> = Mutex::new(Vec::new());
    let mut shared = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
    match shared.iter().position(|a| a.data_type() == data_type) {
        Some(i) if shared[i].len() >= len => return shared[i].slice(0, len),
        Some(i) => {
            shared.swap_remove(i);
        }
        None => {}
    }
    let array = new_null_array(data_type, len.max(MIN_ROWS).next_power_of_two());
    shared.push(Arc::clone(&array));
    array.slice(0, len)
}

/// Where a column of a rebuilt batch comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    Column(usize),
    Null,
}

/// A batch's columns rearranged into `schema`.
struct Plan {
    schema: SchemaRef,
    sources: Vec<Source>,
}

impl Plan {
    fn apply(&self, batch: &RecordBatch) -> Result<RecordBatch, ArrowError> {
        let rows = batch.num_rows();
        let columns = self
            .schema
            .fields()
            .iter()
            .zip(&self.sources)
            .map(|(f, s)| match *s {
                Source::Column(i) => Arc::clone(batch.column(i)),
                Source::Null => null_array(f.data_type(), rows),
            })
            .collect();
        RecordBatch::try_new(Arc::clone(&self.schema), columns)
    }
}

/// An output's side: leaves out the nullable flow columns no batch has
/// used yet.
#[derive(Default)]
pub struct Thinner {
    /// Nullable flow columns in use, by flow-schema position.
    used: Vec<bool>,
    /// The plan for the last input schema and used set.
    plan: Option<(SchemaRef, Plan)>,
}

impl Thinner {
    pub fn new() -> Thinner {
        Thinner {
            used: vec![false; crate::flow_schema().fields().len()],
            ..Thinner::default()
        }
    }

    /// `batch` with the unused nullable flow columns left out and the used
    /// ones present (as nulls when `batch` lacks them): the stream's
    /// columns are the batch's other columns in order, then the used
    /// nullable flow columns in the flow schema's order.
    pub fn thin(&mut self, batch: &RecordBatch) -> Result<RecordBatch, ArrowError> {
        let map = nullable_flow_columns();
        let schema = batch.schema();
        if let Some((s, _)) = &self.plan {
            if !Arc::ptr_eq(s, &schema) && !is_whole_flow(&schema) {
                return Ok(batch.clone());
            }
        } else if !is_whole_flow(&schema) {
            return Ok(batch.clone());
        }
        let mut grew = false;
        for (i, field) in schema.fields().iter().enumerate() {
            if !is_sparse_column(field) {
                continue;
            }
            let pos = map[field.name()];
            let col = batch.column(i);
            if !self.used[pos] && col.null_count() < col.len() {
                self.used[pos] = true;
                grew = true;
            }
        }
        let fresh = !grew
            && self
                .plan
                .as_ref()
                .is_some_and(|(s, _)| Arc::ptr_eq(s, &schema) || **s == *schema);
        if !fresh {
            self.plan = Some((Arc::clone(&schema), self.plan_for(&schema)));
        }
        let (_, plan) = self.plan.as_ref().unwrap_or_else(|| unreachable!());
        plan.apply(batch)
    }

    fn plan_for(&self, schema: &Schema) -> Plan {
        let flow = crate::flow_schema();
        let mut fields = Vec::new();
        let mut sources = Vec::new();
        for (i, field) in schema.fields().iter().enumerate() {
            if !is_sparse_column(field) {
                fields.push(Arc::clone(field));
                sources.push(Source::Column(i));
            }
        }
        for (pos, used) in self.used.iter().enumerate() {
            if !used {
                continue;
            }
            let field = flow.field(pos);
            fields.push(Arc::new(field.clone()));
            sources.push(match schema.index_of(field.name()) {
                Ok(i) if is_sparse_column(schema.field(i)) => Source::Column(i),
                _ => Source::Null,
            });
        }
        Plan {
            schema: Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone())),
            sources,
        }
    }
}

/// What an input's module wants of a stream's columns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Wanted {
    /// The named fields (and whatever else the stream has).
    #[default]
    Fields,
    /// Every flow column, in the flow schema's order, when the stream
    /// holds whole flows ([`is_whole_flow`]).
    WholeFlows,
}

/// An input's side: puts back the nullable flow columns the module needs.
pub struct Filler {
    plan: Option<Plan>,
}

impl Filler {
    /// For a stream of `schema`: the fields of `required` it lacks that
    /// cannot be put back are the error.
    pub fn new(
        schema: &SchemaRef,
        required: &[String],
        wanted: &Wanted,
    ) -> Result<Filler, Vec<String>> {
        let flow = crate::flow_schema();
        let missing: Vec<String> = required
            .iter()
            .filter(|name| schema.field_with_name(name).is_err())
            .filter(|name| !flow.field_with_name(name).is_ok_and(is_sparse_column))
            .cloned()
            .collect();
        if !missing.is_empty() {
            return Err(missing);
        }
        let plan = if *wanted == Wanted::WholeFlows && is_whole_flow(schema) {
            whole_flow_plan(schema)
        } else {
            fields_plan(schema, required)
        };
        Ok(Filler { plan })
    }

    /// The schema the module sees.
    pub fn schema<'a>(&'a self, stream: &'a SchemaRef) -> &'a SchemaRef {
        self.plan.as_ref().map_or(stream, |p| &p.schema)
    }

    pub fn fill(&mut self, batch: RecordBatch) -> Result<RecordBatch, ArrowError> {
        match &self.plan {
            None => Ok(batch),
            Some(p) => p.apply(&batch),
        }
    }
}

/// The stream's columns plus the required nullable flow columns it lacks;
/// `None` when it lacks none.
fn fields_plan(schema: &SchemaRef, required: &[String]) -> Option<Plan> {
    let flow = crate::flow_schema();
    let add: Vec<&Field> = required
        .iter()
        .filter(|n| schema.field_with_name(n).is_err())
        .filter_map(|n| flow.field_with_name(n).ok())
        .collect();
    if add.is_empty() {
        return None;
    }
    let mut fields: Vec<Arc<Field>> = schema.fields().iter().cloned().collect();
    let mut sources: Vec<Source> = (0..fields.len()).map(Source::Column).collect();
    for f in add {
        fields.push(Arc::new(f.clone()));
        sources.push(Source::Null);
    }
    Some(Plan {
        schema: Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone())),
        sources,
    })
}

/// Every flow column in flow-schema order (the stream's own where it has
/// them, nulls for nullable ones it lacks), then the stream's other
/// columns; `None` when that is the stream as it is.
fn whole_flow_plan(schema: &SchemaRef) -> Option<Plan> {
    let flow = crate::flow_schema();
    let mut fields = Vec::new();
    let mut sources = Vec::new();
    for field in flow.fields() {
        match schema.index_of(field.name()) {
            Ok(i) => {
                fields.push(Arc::clone(&schema.fields()[i]));
                sources.push(Source::Column(i));
            }
            Err(_) if is_sparse_column(field) => {
                fields.push(Arc::clone(field));
                sources.push(Source::Null);
            }
            Err(_) => {}
        }
    }
    for (i, field) in schema.fields().iter().enumerate() {
        if flow.field_with_name(field.name()).is_err() {
            fields.push(Arc::clone(field));
            sources.push(Source::Column(i));
        }
    }
    let identity = sources.len() == schema.fields().len()
        && sources
            .iter()
            .enumerate()
            .all(|(k, s)| *s == Source::Column(k));
    if identity {
        return None;
    }
    Some(Plan {
        schema: Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone())),
        sources,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{StringArray, UInt16Array};

    /// A flow-like batch: dst_port, then http_host and dns_qname (nullable
    /// flow columns) with the given values.
    fn batch(hosts: Vec<Option<&str>>, qnames: Option<Vec<Option<&str>>>) -> RecordBatch {
        let n = hosts.len();
        let mut fields = vec![
            Field::new("dst_port", DataType::UInt16, false),
            Field::new("http_host", DataType::Utf8, true),
        ];
        let mut cols: Vec<ArrayRef> = vec![
            Arc::new(UInt16Array::from(vec![80u16; n])),
            Arc::new(StringArray::from(hosts)),
        ];
        if let Some(q) = qnames {
            fields.push(Field::new("dns_qname", DataType::Utf8, true));
            cols.push(Arc::new(StringArray::from(q)));
        }
        RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap()
    }

    fn names(b: &RecordBatch) -> Vec<String> {
        b.schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }

    /// Whole flows (every flow column, all L7 null) with `http_host` set
    /// as given and, unless `qname`, no `dns_qname` column at all.
    fn flows(hosts: Vec<Option<&str>>, qname: bool) -> RecordBatch {
        let mut b = crate::BatchBuilder::new();
        for _ in &hosts {
            b.push(&record::FlowRecord::default());
        }
        let full = b.finish();
        let schema = full.schema();
        let mut columns = full.columns().to_vec();
        columns[schema.index_of("http_host").unwrap()] = Arc::new(StringArray::from(hosts));
        let full = RecordBatch::try_new(schema.clone(), columns).unwrap();
        if qname {
            return full;
        }
        let keep: Vec<usize> = (0..schema.fields().len())
            .filter(|&i| schema.field(i).name() != "dns_qname")
            .collect();
        full.project(&keep).unwrap()
    }

    fn has(b: &RecordBatch, name: &str) -> bool {
        b.schema().field_with_name(name).is_ok()
    }

    #[test]
    fn unused_columns_stay_out_until_used_then_stay_in() {
        let mut t = Thinner::new();
        let b = t.thin(&flows(vec![None, None], true)).unwrap();
        assert!(has(&b, "src_ip") && !has(&b, "http_host") && !has(&b, "dns_qname"));
        let dense = flows(vec![None], true).num_columns();
        assert!(
            b.num_columns() < dense - 40,
            "{} of {dense}",
            b.num_columns()
        );
        let b = t.thin(&flows(vec![Some("a"), None], true)).unwrap();
        assert!(has(&b, "http_host") && !has(&b, "dns_qname"));
        let s1 = b.schema();
        // http_host stays (null), dns_qname still unused: the same schema.
        let b = t.thin(&flows(vec![None, None], false)).unwrap();
        assert_eq!(b.schema(), s1);
        assert_eq!(b.column_by_name("http_host").unwrap().null_count(), 2);
        // And the receiver gets whole flows back, in the flow schema's order.
        let mut f = Filler::new(&b.schema(), &[], &Wanted::WholeFlows).unwrap();
        let whole = f.fill(b).unwrap();
        assert_eq!(whole.schema().fields(), crate::flow_schema().fields());
    }

    #[test]
    fn flows_cut_to_some_fields_are_not_thinned() {
        let b = batch(vec![None], None);
        let mut t = Thinner::new();
        assert_eq!(names(&t.thin(&b).unwrap()), ["dst_port", "http_host"]);
    }

    #[test]
    fn other_columns_are_never_left_out() {
        let schema = Arc::new(Schema::new(vec![Field::new("note", DataType::Utf8, true)]));
        let b = RecordBatch::try_new(
            schema,
            vec![Arc::new(StringArray::from(vec![None::<&str>]))],
        )
        .unwrap();
        assert_eq!(names(&Thinner::new().thin(&b).unwrap()), ["note"]);
    }

    #[test]
    fn inputs_put_back_what_the_module_needs() {
        let b = batch(vec![Some("a")], None);
        let schema = b.schema();
        let mut f = Filler::new(&schema, &["dns_qname".into()], &Wanted::Fields).unwrap();
        let filled = f.fill(b).unwrap();
        assert_eq!(names(&filled), ["dst_port", "http_host", "dns_qname"]);
        assert_eq!(filled.column(2).null_count(), 1);
        assert_eq!(f.schema(&schema), &filled.schema());
        // A field the flow schema does not have as nullable cannot be made up.
        let e = Filler::new(&schema, &["src_ip".into(), "nope".into()], &Wanted::Fields)
            .err()
            .unwrap();
        assert_eq!(e, ["src_ip", "nope"]);
    }

    #[test]
    fn whole_flows_come_back_in_the_flow_schemas_order() {
        let flow = crate::flow_schema();
        let cols: Vec<ArrayRef> = flow
            .fields()
            .iter()
            .filter(|f| !f.is_nullable())
            .map(|f| new_null_array(f.data_type(), 0))
            .collect();
        let fields: Vec<Field> = flow
            .fields()
            .iter()
            .filter(|f| !f.is_nullable())
            .map(|f| f.as_ref().clone())
            .collect();
        let thin = RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap();
        let mut f = Filler::new(&thin.schema(), &[], &Wanted::WholeFlows).unwrap();
        let whole = f.fill(thin).unwrap();
        assert_eq!(whole.schema().fields(), flow.fields());
    }
}
