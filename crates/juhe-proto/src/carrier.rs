//! Which carrier a number segment was allocated to (data as in libphonenumber).

use std::fmt;

/// The carrier a mobile number's segment was allocated to.
///
/// Numbers can be ported between carriers (携号转网), so this is advice: only the API's
/// `232903` is authoritative about whether a number is supported.
///
/// ```
/// use juhe_proto::Carrier;
/// assert_eq!(Carrier::of_number("17041234567"), Carrier::Unicom); // 1704: longest prefix wins
/// assert_eq!(Carrier::of_number("17031234567"), Carrier::Mobile);
/// assert!(!Carrier::Telecom.is_supported());
/// assert_eq!(Carrier::Broadnet.to_string(), "China Broadnet");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Carrier {
    /// China Unicom (中国联通): the only carrier this API supports.
    Unicom,
    /// China Mobile (中国移动).
    Mobile,
    /// China Telecom (中国电信).
    Telecom,
    /// China Broadnet (中国广电).
    Broadnet,
    /// A segment not allocated to any of the above (satellite, IoT, unallocated…).
    Unknown,
}

// Longest prefix wins; each table holds prefixes of one length.
const FIVE: &[(&str, Carrier)] = &[
    ("17400", Carrier::Telecom),
    ("17401", Carrier::Telecom),
    ("17402", Carrier::Telecom),
    ("17403", Carrier::Telecom),
    ("17404", Carrier::Telecom),
    ("17405", Carrier::Telecom),
];

const FOUR: &[(&str, Carrier)] = &[
    ("1340", Carrier::Mobile),
    ("1341", Carrier::Mobile),
    ("1342", Carrier::Mobile),
    ("1343", Carrier::Mobile),
    ("1344", Carrier::Mobile),
    ("1345", Carrier::Mobile),
    ("1346", Carrier::Mobile),
    ("1347", Carrier::Mobile),
    ("1348", Carrier::Mobile),
    ("1610", Carrier::Broadnet),
    ("1700", Carrier::Telecom),
    ("1701", Carrier::Telecom),
    ("1702", Carrier::Telecom),
    ("1703", Carrier::Mobile),
    ("1704", Carrier::Unicom),
    ("1705", Carrier::Mobile),
    ("1706", Carrier::Mobile),
    ("1707", Carrier::Unicom),
    ("1708", Carrier::Unicom),
    ("1709", Carrier::Unicom),
];

const THREE: &[(&str, Carrier)] = &[
    ("130", Carrier::Unicom),
    ("131", Carrier::Unicom),
    ("132", Carrier::Unicom),
    ("133", Carrier::Telecom),
    ("135", Carrier::Mobile),
    ("136", Carrier::Mobile),
    ("137", Carrier::Mobile),
    ("138", Carrier::Mobile),
    ("139", Carrier::Mobile),
    ("145", Carrier::Unicom),
    ("147", Carrier::Mobile),
    ("150", Carrier::Mobile),
    ("151", Carrier::Mobile),
    ("152", Carrier::Mobile),
    ("153", Carrier::Telecom),
    ("155", Carrier::Unicom),
    ("156", Carrier::Unicom),
    ("157", Carrier::Mobile),
    ("158", Carrier::Mobile),
    ("159", Carrier::Mobile),
    ("166", Carrier::Unicom),
    ("167", Carrier::Unicom),
    ("171", Carrier::Unicom),
    ("172", Carrier::Mobile),
    ("173", Carrier::Telecom),
    ("175", Carrier::Unicom),
    ("176", Carrier::Unicom),
    ("177", Carrier::Telecom),
    ("178", Carrier::Mobile),
    ("180", Carrier::Telecom),
    ("181", Carrier::Telecom),
    ("182", Carrier::Mobile),
    ("183", Carrier::Mobile),
    ("184", Carrier::Mobile),
    ("185", Carrier::Unicom),
    ("186", Carrier::Unicom),
    ("187", Carrier::Mobile),
    ("188", Carrier::Mobile),
    ("189", Carrier::Telecom),
    ("190", Carrier::Telecom),
    ("191", Carrier::Telecom),
    ("192", Carrier::Broadnet),
    ("193", Carrier::Telecom),
    ("195", Carrier::Mobile),
    ("196", Carrier::Unicom),
    ("197", Carrier::Mobile),
    ("198", Carrier::Mobile),
    ("199", Carrier::Telecom),
];

impl Carrier {
    /// The carrier of an 11-digit number's segment; `Unknown` when no table entry matches.
    pub fn of_number(digits: &str) -> Carrier {
        [(5, FIVE), (4, FOUR), (3, THREE)]
            .into_iter()
            .find_map(|(len, table)| {
                let prefix = digits.get(..len)?;
                table.iter().find(|(p, _)| *p == prefix).map(|(_, c)| *c)
            })
            .unwrap_or(Carrier::Unknown)
    }

    /// The stable lower-case machine name (`unicom`, `mobile`, `telecom`, `broadnet`,
    /// `unknown`), as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            Carrier::Unicom => "unicom",
            Carrier::Mobile => "mobile",
            Carrier::Telecom => "telecom",
            Carrier::Broadnet => "broadnet",
            Carrier::Unknown => "unknown",
        }
    }

    /// The Chinese name: 中国联通, 中国移动, 中国电信, 中国广电, 未知运营商.
    pub fn zh_name(self) -> &'static str {
        match self {
            Carrier::Unicom => "中国联通",
            Carrier::Mobile => "中国移动",
            Carrier::Telecom => "中国电信",
            Carrier::Broadnet => "中国广电",
            Carrier::Unknown => "未知运营商",
        }
    }

    /// True for China Unicom, the only carrier the `telecom2Cucc` API answers for.
    pub fn is_supported(self) -> bool {
        self == Carrier::Unicom
    }
}

/// The English name, for messages: "China Unicom", "China Mobile", "China Telecom",
/// "China Broadnet", "an unknown carrier". [`Carrier::as_str`] is the stable machine name.
///
/// ```
/// use juhe_proto::Carrier;
/// assert_eq!(Carrier::Mobile.to_string(), "China Mobile");
/// assert_eq!(Carrier::Mobile.zh_name(), "中国移动");
/// assert_eq!(Carrier::Mobile.as_str(), "mobile");
/// ```
impl fmt::Display for Carrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Carrier::Unicom => "China Unicom",
            Carrier::Mobile => "China Mobile",
            Carrier::Telecom => "China Telecom",
            Carrier::Broadnet => "China Broadnet",
            Carrier::Unknown => "an unknown carrier",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Carrier;

    #[test]
    fn longest_prefix_wins() {
        assert_eq!(Carrier::of_number("17400123456"), Carrier::Telecom);
        assert_eq!(Carrier::of_number("17406123456"), Carrier::Unknown);
        assert_eq!(Carrier::of_number("17041234567"), Carrier::Unicom);
        assert_eq!(Carrier::of_number("17031234567"), Carrier::Mobile);
        assert_eq!(Carrier::of_number("13491234567"), Carrier::Unknown);
        assert_eq!(Carrier::of_number("16101234567"), Carrier::Broadnet);
        assert_eq!(Carrier::of_number("16111234567"), Carrier::Unknown);
        assert_eq!(Carrier::of_number("1"), Carrier::Unknown);
    }
}
