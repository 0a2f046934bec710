//! Information elements (RFC 7012): the IANA ones flow tools use and the
//! CESNET/Flowmon enterprise ones eddy's L7 fields travel in.
//!
//! The tables are plain sorted-by-hand lists searched linearly: a few hundred
//! entries, looked up once per template field, not per record.

/// RFC 7012 abstract data types. Structured-data types are kept opaque.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DataType {
    OctetArray,
    Unsigned8,
    Unsigned16,
    Unsigned32,
    Unsigned64,
    Signed8,
    Signed16,
    Signed32,
    Signed64,
    Float32,
    Float64,
    Boolean,
    MacAddress,
    String,
    DateTimeSeconds,
    DateTimeMilliseconds,
    DateTimeMicroseconds,
    DateTimeNanoseconds,
    Ipv4Address,
    Ipv6Address,
    BasicList,
    SubTemplateList,
    SubTemplateMultiList,
}

/// One information element: (enterprise number, id) names it; 0 = IANA.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Element {
    pub pen: u32,
    pub id: u16,
    pub name: &'static str,
    pub ty: DataType,
}

/// CESNET's private enterprise number (ipfixprobe, ipfixcol2).
pub const PEN_CESNET: u32 = 8057;
/// Flowmon's private enterprise number.
pub const PEN_FLOWMON: u32 = 39499;
/// Where NetFlow v9 field types above 127 live, as ipfixcol2 maps them.
pub const PEN_NETFLOW_V9: u32 = 4_294_967_294;
/// NetFlow v9 field types above 32767 (the IPFIX enterprise bit) live here.
pub const PEN_NETFLOW_V9_HIGH: u32 = 4_294_967_295;

const fn ie(id: u16, name: &'static str, ty: DataType) -> Element {
    Element {
        pen: 0,
        id,
        name,
        ty,
    }
}

const fn pe(pen: u32, id: u16, name: &'static str, ty: DataType) -> Element {
    Element { pen, id, name, ty }
}

use DataType::*;

/// IANA elements (enterprise 0) that flow exporters commonly send.
pub static IANA: &[Element] = &[
    ie(1, "octetDeltaCount", Unsigned64),
    ie(2, "packetDeltaCount", Unsigned64),
    ie(3, "deltaFlowCount", Unsigned64),
    ie(4, "protocolIdentifier", Unsigned8),
    ie(5, "ipClassOfService", Unsigned8),
    ie(6, "tcpControlBits", Unsigned16),
    ie(7, "sourceTransportPort", Unsigned16),
    ie(8, "sourceIPv4Address", Ipv4Address),
    ie(9, "sourceIPv4PrefixLength", Unsigned8),
    ie(10, "ingressInterface", Unsigned32),
    ie(11, "destinationTransportPort", Unsigned16),
    ie(12, "destinationIPv4Address", Ipv4Address),
    ie(13, "destinationIPv4PrefixLength", Unsigned8),
    ie(14, "egressInterface", Unsigned32),
    ie(15, "ipNextHopIPv4Address", Ipv4Address),
    ie(16, "bgpSourceAsNumber", Unsigned32),
    ie(17, "bgpDestinationAsNumber", Unsigned32),
    ie(18, "bgpNextHopIPv4Address", Ipv4Address),
    ie(19, "postMCastPacketDeltaCount", Unsigned64),
    ie(20, "postMCastOctetDeltaCount", Unsigned64),
    ie(21, "flowEndSysUpTime", Unsigned32),
    ie(22, "flowStartSysUpTime", Unsigned32),
    ie(23, "postOctetDeltaCount", Unsigned64),
    ie(24, "postPacketDeltaCount", Unsigned64),
    ie(25, "minimumIpTotalLength", Unsigned64),
    ie(26, "maximumIpTotalLength", Unsigned64),
    ie(27, "sourceIPv6Address", Ipv6Address),
    ie(28, "destinationIPv6Address", Ipv6Address),
    ie(29, "sourceIPv6PrefixLength", Unsigned8),
    ie(30, "destinationIPv6PrefixLength", Unsigned8),
    ie(31, "flowLabelIPv6", Unsigned32),
    ie(32, "icmpTypeCodeIPv4", Unsigned16),
    ie(33, "igmpType", Unsigned8),
    ie(34, "samplingInterval", Unsigned32),
    ie(35, "samplingAlgorithm", Unsigned8),
    ie(36, "flowActiveTimeout", Unsigned16),
    ie(37, "flowIdleTimeout", Unsigned16),
    ie(40, "exportedOctetTotalCount", Unsigned64),
    ie(41, "exportedMessageTotalCount", Unsigned64),
    ie(42, "exportedFlowRecordTotalCount", Unsigned64),
    ie(52, "minimumTTL", Unsigned8),
    ie(53, "maximumTTL", Unsigned8),
    ie(54, "fragmentIdentification", Unsigned32),
    ie(55, "postIpClassOfService", Unsigned8),
    ie(56, "sourceMacAddress", MacAddress),
    ie(57, "postDestinationMacAddress", MacAddress),
    ie(58, "vlanId", Unsigned16),
    ie(59, "postVlanId", Unsigned16),
    ie(60, "ipVersion", Unsigned8),
    ie(61, "flowDirection", Unsigned8),
    ie(62, "ipNextHopIPv6Address", Ipv6Address),
    ie(63, "bgpNextHopIPv6Address", Ipv6Address),
    ie(64, "ipv6ExtensionHeaders", Unsigned32),
    ie(70, "mplsTopLabelStackSection", OctetArray),
    ie(80, "destinationMacAddress", MacAddress),
    ie(81, "postSourceMacAddress", MacAddress),
    ie(82, "interfaceName", String),
    ie(83, "interfaceDescription", String),
    ie(85, "octetTotalCount", Unsigned64),
    ie(86, "packetTotalCount", Unsigned64),
    ie(88, "fragmentOffset", Unsigned16),
    ie(89, "forwardingStatus", Unsigned32),
    ie(90, "mplsVpnRouteDistinguisher", OctetArray),
    ie(94, "applicationDescription", String),
    ie(95, "applicationId", OctetArray),
    ie(96, "applicationName", String),
    ie(130, "exporterIPv4Address", Ipv4Address),
    ie(131, "exporterIPv6Address", Ipv6Address),
    ie(136, "flowEndReason", Unsigned8),
    ie(138, "observationPointId", Unsigned64),
    ie(139, "icmpTypeCodeIPv6", Unsigned16),
    ie(141, "lineCardId", Unsigned32),
    ie(142, "portId", Unsigned32),
    ie(143, "meteringProcessId", Unsigned32),
    ie(144, "exportingProcessId", Unsigned32),
    ie(145, "templateId", Unsigned16),
    ie(148, "flowId", Unsigned64),
    ie(149, "observationDomainId", Unsigned32),
    ie(150, "flowStartSeconds", DateTimeSeconds),
    ie(151, "flowEndSeconds", DateTimeSeconds),
    ie(152, "flowStartMilliseconds", DateTimeMilliseconds),
    ie(153, "flowEndMilliseconds", DateTimeMilliseconds),
    ie(154, "flowStartMicroseconds", DateTimeMicroseconds),
    ie(155, "flowEndMicroseconds", DateTimeMicroseconds),
    ie(156, "flowStartNanoseconds", DateTimeNanoseconds),
    ie(157, "flowEndNanoseconds", DateTimeNanoseconds),
    ie(158, "flowStartDeltaMicroseconds", Unsigned32),
    ie(159, "flowEndDeltaMicroseconds", Unsigned32),
    ie(160, "systemInitTimeMilliseconds", DateTimeMilliseconds),
    ie(161, "flowDurationMilliseconds", Unsigned32),
    ie(162, "flowDurationMicroseconds", Unsigned32),
    ie(164, "ignoredPacketTotalCount", Unsigned64),
    ie(165, "ignoredOctetTotalCount", Unsigned64),
    ie(166, "notSentFlowTotalCount", Unsigned64),
    ie(176, "icmpTypeIPv4", Unsigned8),
    ie(177, "icmpCodeIPv4", Unsigned8),
    ie(178, "icmpTypeIPv6", Unsigned8),
    ie(179, "icmpCodeIPv6", Unsigned8),
    ie(180, "udpSourcePort", Unsigned16),
    ie(181, "udpDestinationPort", Unsigned16),
    ie(182, "tcpSourcePort", Unsigned16),
    ie(183, "tcpDestinationPort", Unsigned16),
    ie(184, "tcpSequenceNumber", Unsigned32),
    ie(185, "tcpAcknowledgementNumber", Unsigned32),
    ie(186, "tcpWindowSize", Unsigned16),
    ie(189, "ipHeaderLength", Unsigned8),
    ie(190, "totalLengthIPv4", Unsigned16),
    ie(191, "payloadLengthIPv6", Unsigned16),
    ie(192, "ipTTL", Unsigned8),
    ie(193, "nextHeaderIPv6", Unsigned8),
    ie(195, "ipDiffServCodePoint", Unsigned8),
    ie(196, "ipPrecedence", Unsigned8),
    ie(197, "fragmentFlags", Unsigned8),
    ie(210, "paddingOctets", OctetArray),
    ie(211, "collectorIPv4Address", Ipv4Address),
    ie(212, "collectorIPv6Address", Ipv6Address),
    ie(213, "exportInterface", Unsigned32),
    ie(214, "exportProtocolVersion", Unsigned8),
    ie(215, "exportTransportProtocol", Unsigned8),
    ie(216, "collectorTransportPort", Unsigned16),
    ie(217, "exporterTransportPort", Unsigned16),
    ie(218, "tcpSynTotalCount", Unsigned64),
    ie(219, "tcpFinTotalCount", Unsigned64),
    ie(220, "tcpRstTotalCount", Unsigned64),
    ie(221, "tcpPshTotalCount", Unsigned64),
    ie(222, "tcpAckTotalCount", Unsigned64),
    ie(223, "tcpUrgTotalCount", Unsigned64),
    ie(224, "ipTotalLength", Unsigned64),
    ie(225, "postNATSourceIPv4Address", Ipv4Address),
    ie(226, "postNATDestinationIPv4Address", Ipv4Address),
    ie(227, "postNAPTSourceTransportPort", Unsigned16),
    ie(228, "postNAPTDestinationTransportPort", Unsigned16),
    ie(229, "natOriginatingAddressRealm", Unsigned8),
    ie(230, "natEvent", Unsigned8),
    ie(231, "initiatorOctets", Unsigned64),
    ie(232, "responderOctets", Unsigned64),
    ie(233, "firewallEvent", Unsigned8),
    ie(234, "ingressVRFID", Unsigned32),
    ie(235, "egressVRFID", Unsigned32),
    ie(236, "VRFname", String),
    ie(239, "biflowDirection", Unsigned8),
    ie(243, "dot1qVlanId", Unsigned16),
    ie(244, "dot1qPriority", Unsigned8),
    ie(245, "dot1qCustomerVlanId", Unsigned16),
    ie(256, "ethernetType", Unsigned16),
    ie(281, "postNATSourceIPv6Address", Ipv6Address),
    ie(282, "postNATDestinationIPv6Address", Ipv6Address),
    ie(291, "basicList", BasicList),
    ie(292, "subTemplateList", SubTemplateList),
    ie(293, "subTemplateMultiList", SubTemplateMultiList),
    ie(298, "initiatorPackets", Unsigned64),
    ie(299, "responderPackets", Unsigned64),
    ie(346, "privateEnterpriseNumber", Unsigned32),
    ie(352, "layer2OctetDeltaCount", Unsigned64),
    ie(353, "layer2OctetTotalCount", Unsigned64),
];

/// CESNET (8057) and Flowmon (39499) elements carrying eddy's L7 fields
/// (DESIGN.md section 3).
pub static ENTERPRISE: &[Element] = &[
    pe(PEN_CESNET, 1, "DNS_RCODE", Unsigned8),
    pe(PEN_CESNET, 2, "DNS_NAME", String),
    pe(PEN_CESNET, 3, "DNS_QTYPE", Unsigned16),
    pe(PEN_CESNET, 5, "DNS_RR_TTL", Unsigned32),
    pe(PEN_CESNET, 7, "DNS_RDATA", OctetArray),
    pe(PEN_CESNET, 10, "DNS_ID", Unsigned16),
    pe(PEN_CESNET, 14, "DNS_ANSWERS", Unsigned16),
    pe(PEN_CESNET, 100, "SIP_MSG_TYPE", Unsigned16),
    pe(PEN_CESNET, 101, "SIP_STATUS_CODE", Unsigned16),
    pe(PEN_CESNET, 102, "SIP_CALL_ID", String),
    pe(PEN_CESNET, 103, "SIP_CALLING_PARTY", String),
    pe(PEN_CESNET, 104, "SIP_CALLED_PARTY", String),
    pe(PEN_CESNET, 105, "SIP_VIA", String),
    pe(PEN_CESNET, 106, "SIP_USER_AGENT", String),
    pe(PEN_CESNET, 107, "SIP_REQUEST_URI", String),
    pe(PEN_CESNET, 108, "SIP_CSEQ", String),
    pe(PEN_CESNET, 200, "HTTP_REQUEST_METHOD", String),
    pe(PEN_CESNET, 201, "HTTP_RESPONSE_SERVER", String),
    pe(PEN_CESNET, 808, "TLS_SNI", String),
    pe(PEN_CESNET, 809, "TLS_JA4", String),
    pe(PEN_CESNET, 810, "SMTP_COMMANDS", Unsigned32),
    pe(PEN_CESNET, 813, "SMTP_FIRST_SENDER", String),
    pe(PEN_CESNET, 814, "SMTP_FIRST_RECIPIENT", String),
    pe(PEN_CESNET, 820, "SMTP_DOMAIN", String),
    pe(PEN_FLOWMON, 1, "HTTP_REQUEST_HOST", String),
    pe(PEN_FLOWMON, 2, "HTTP_REQUEST_URL", String),
    pe(PEN_FLOWMON, 3, "HTTP_REQUEST_REFERER", String),
    pe(PEN_FLOWMON, 10, "HTTP_RESPONSE_CONTENT_TYPE", String),
    pe(PEN_FLOWMON, 12, "HTTP_RESPONSE_STATUS_CODE", Unsigned16),
    pe(PEN_FLOWMON, 20, "HTTP_REQUEST_AGENT", String),
    pe(PEN_FLOWMON, 333, "TLS_VERSION", Unsigned16),
    pe(PEN_FLOWMON, 337, "TLS_ALPN", String),
    pe(PEN_FLOWMON, 357, "TLS_JA3", OctetArray),
];

/// The element for (enterprise number, id), if we know it. NetFlow v9 ids
/// below 128 share IANA's meaning, so callers pass them with pen 0.
pub fn lookup(pen: u32, id: u16) -> Option<&'static Element> {
    let table = if pen == 0 { IANA } else { ENTERPRISE };
    table.iter().find(|e| e.pen == pen && e.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_have_no_duplicates() {
        for table in [IANA, ENTERPRISE] {
            for (i, a) in table.iter().enumerate() {
                for b in &table[i + 1..] {
                    assert!((a.pen, a.id) != (b.pen, b.id), "duplicate {}", a.name);
                }
            }
        }
    }

    #[test]
    fn iana_has_the_elements_flow_tools_use() {
        let mut ids: Vec<u16> = (1..=12)
            .chain(14..=18)
            .chain(27..=32)
            .chain(52..=61)
            .collect();
        ids.extend([
            21, 22, 80, 81, 88, 89, 136, 139, 148, 160, 195, 210, 230, 239, 243, 245,
        ]);
        ids.extend(
            (150..=157)
                .chain(176..=179)
                .chain(189..=192)
                .chain(225..=228),
        );
        ids.extend([233, 234, 235, 256, 346, 352, 353]);
        for id in ids {
            assert!(lookup(0, id).is_some(), "IANA element {id} missing");
        }
    }

    #[test]
    fn lookup_finds_iana_and_enterprise() {
        assert_eq!(lookup(0, 8).map(|e| e.name), Some("sourceIPv4Address"));
        assert_eq!(lookup(PEN_CESNET, 808).map(|e| e.name), Some("TLS_SNI"));
        assert!(lookup(0, 60000).is_none());
        assert!(lookup(12345, 1).is_none());
    }
}
