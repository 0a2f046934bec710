//! Batch operations that skip columns null in every row. Flow batches have
//! about 60 L7 columns of which a batch usually uses a handful; gathering
//! the offsets and validity of the others row by row was a tenth of a
//! filter module's time. A column that is null throughout is made null
//! directly instead.

use std::sync::Arc;

use arrow_array::{new_null_array, Array, ArrayRef, BooleanArray, RecordBatch};
use arrow_schema::{ArrowError, SchemaRef};

fn all_null(a: &dyn Array) -> bool {
    a.null_count() == a.len()
}

/// The rows of `batch` where `mask` is true (`filter_record_batch`).
pub fn filter(batch: &RecordBatch, mask: &BooleanArray) -> Result<RecordBatch, ArrowError> {
    let n = mask.true_count();
    if n == batch.num_rows() {
        return Ok(batch.clone());
    }
    let predicate = arrow_select::filter::FilterBuilder::new(mask)
        .optimize()
        .build();
    let columns = batch
        .columns()
        .iter()
        .map(|c| {
            if all_null(c.as_ref()) {
                Ok(new_null_array(c.data_type(), n))
            } else {
                predicate.filter(c.as_ref())
            }
        })
        .collect::<Result<Vec<ArrayRef>, ArrowError>>()?;
    RecordBatch::try_new(batch.schema(), columns)
}

/// One batch of all of `batches` (same schema), in order.
pub fn concat(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<RecordBatch, ArrowError> {
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    let mut columns = Vec::with_capacity(schema.fields().len());
    let mut arrays: Vec<&dyn Array> = Vec::with_capacity(batches.len());
    for (i, field) in schema.fields().iter().enumerate() {
        arrays.clear();
        arrays.extend(batches.iter().map(|b| b.column(i).as_ref()));
        if arrays.iter().all(|a| all_null(*a)) {
            columns.push(new_null_array(field.data_type(), rows));
        } else {
            columns.push(arrow_select::concat::concat(&arrays)?);
        }
    }
    RecordBatch::try_new(Arc::clone(schema), columns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{StringArray, UInt16Array};
    use arrow_schema::{DataType, Field, Schema};

    fn batch(ports: &[u16], hosts: &[Option<&str>]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("dst_port", DataType::UInt16, false),
            Field::new("http_host", DataType::Utf8, true),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(UInt16Array::from(ports.to_vec())),
                Arc::new(StringArray::from(hosts.to_vec())),
            ],
        )
        .unwrap()
    }

    #[test]
    fn same_answers_as_arrow_with_and_without_null_columns() {
        for hosts in [vec![None, None, None], vec![Some("a"), None, Some("c")]] {
            let b = batch(&[1, 2, 3], &hosts);
            let mask = BooleanArray::from(vec![true, false, true]);
            assert_eq!(
                filter(&b, &mask).unwrap(),
                arrow_select::filter::filter_record_batch(&b, &mask).unwrap()
            );
            let both = [b.clone(), b.clone()];
            assert_eq!(
                concat(&b.schema(), &both).unwrap(),
                arrow_select::concat::concat_batches(&b.schema(), &both).unwrap()
            );
        }
    }
}
