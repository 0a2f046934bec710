//! PLACEHOLDER: IPFIX encoding of flow records (being written).
