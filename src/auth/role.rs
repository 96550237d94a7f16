//! The role hierarchy: `customer < support < fulfillment < manager < admin`, and
//! `privacy_officer`, who has everything support has plus the privacy duties, and is
//! deliberately not under admin (separation of duty).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Customer,
    Support,
    Fulfillment,
    Manager,
    Admin,
    PrivacyOfficer,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Customer,
        Role::Support,
        Role::Fulfillment,
        Role::Manager,
        Role::Admin,
        Role::PrivacyOfficer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Support => "support",
            Role::Fulfillment => "fulfillment",
            Role::Manager => "manager",
            Role::Admin => "admin",
            Role::PrivacyOfficer => "privacy_officer",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Position on the main ladder; `None` for the privacy officer, who stands beside it.
    fn rank(self) -> Option<u8> {
        match self {
            Role::Customer => Some(0),
            Role::Support => Some(1),
            Role::Fulfillment => Some(2),
            Role::Manager => Some(3),
            Role::Admin => Some(4),
            Role::PrivacyOfficer => None,
        }
    }

    /// Whether a holder of `self` has every right of `other`.
    pub fn includes(self, other: Role) -> bool {
        match (self.rank(), other.rank()) {
            (Some(mine), Some(theirs)) => mine >= theirs,
            (None, Some(theirs)) => theirs <= Role::Support.rank().unwrap_or(1),
            (_, None) => self == other,
        }
    }

    pub fn is_staff(self) -> bool {
        self != Role::Customer
    }
}

#[cfg(test)]
mod tests {
    use super::Role::*;
    use super::*;

    #[test]
    fn the_ladder_is_inclusive_upwards_only() {
        assert!(Admin.includes(Manager) && Manager.includes(Fulfillment));
        assert!(Fulfillment.includes(Support) && Support.includes(Customer));
        assert!(!Support.includes(Fulfillment) && !Customer.includes(Support));
    }

    #[test]
    fn the_privacy_officer_stands_beside_the_ladder() {
        assert!(PrivacyOfficer.includes(Support) && PrivacyOfficer.includes(Customer));
        assert!(!PrivacyOfficer.includes(Fulfillment));
        assert!(
            !Admin.includes(PrivacyOfficer),
            "admin must not hold privacy duties"
        );
        assert!(PrivacyOfficer.includes(PrivacyOfficer));
    }

    #[test]
    fn names_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("root"), None);
    }
}
