//! The part of routing that depends on what AWS holds: which rule priority
//! and test listener port each service keeps across runs. Pure: the plan calls
//! these with what discovery found.

use std::collections::{BTreeMap, BTreeSet};

use common::spec::alb::PRIORITIES;
use common::spec::deployment::PRODUCTION_PORTS;
use common::{Error, Result};

/// The first test listener port a blue/green service gets (then 8081, 8082...).
pub const FIRST_TEST_PORT: u16 = 8080;

/// Each blue/green service's test listener port. Explicit ports win; a service
/// whose test listener exists keeps its port; a new one takes the lowest free
/// port from 8080, skipping `taken` (ports of listeners that stay and are not
/// test listeners of these services). So adding a blue/green service never
/// moves another's.
pub fn assign_test_ports(
    wanted: &[(&str, Option<u16>)],
    existing: &BTreeMap<String, u16>,
    taken: &BTreeSet<u16>,
) -> Result<BTreeMap<String, u16>> {
    let mut used: BTreeSet<u16> = PRODUCTION_PORTS
        .into_iter()
        .chain(taken.iter().copied())
        .collect();
    let mut out = BTreeMap::new();
    for (name, p) in wanted {
        if let Some(p) = p {
            used.insert(*p);
            out.insert((*name).to_owned(), *p);
        }
    }
    for (name, p) in wanted {
        if p.is_none() {
            if let Some(&have) = existing.get(*name) {
                if used.insert(have) {
                    out.insert((*name).to_owned(), have);
                }
            }
        }
    }
    let mut next = FIRST_TEST_PORT;
    for (name, _) in wanted {
        if out.contains_key(*name) {
            continue;
        }
        while used.contains(&next) {
            next = next
                .checked_add(1)
                .ok_or_else(|| Error::spec("no free test listener port left"))?;
        }
        used.insert(next);
        out.insert((*name).to_owned(), next);
    }
    Ok(out)
}

/// The first priority a new rule tries, and the step between them: room to slot
/// explicit priorities in between by hand.
pub const FIRST_PRIORITY: u32 = 100;
pub const PRIORITY_STEP: u32 = 10;

/// Each ruled service's priority. Explicit priorities win; a service whose rule
/// already exists keeps its priority; a new one takes the lowest free slot of
/// 100, 110, 120... (skipping `taken`, the priorities of rules that are not ours).
/// So adding or removing a service never renumbers another.
pub fn assign_priorities(
    ruled: &[(&str, Option<u32>)],
    existing: &BTreeMap<String, u32>,
    taken: &BTreeSet<u32>,
) -> Result<BTreeMap<String, u32>> {
    let mut used: BTreeSet<u32> = taken.clone();
    let mut out = BTreeMap::new();
    for (name, p) in ruled {
        if let Some(p) = p {
            used.insert(*p);
            out.insert((*name).to_owned(), *p);
        }
    }
    for (name, p) in ruled {
        if p.is_some() {
            continue;
        }
        if let Some(&have) = existing.get(*name) {
            if used.insert(have) {
                out.insert((*name).to_owned(), have);
            }
        }
    }
    let mut next = FIRST_PRIORITY;
    for (name, _) in ruled {
        if out.contains_key(*name) {
            continue;
        }
        while used.contains(&next) {
            next += PRIORITY_STEP;
        }
        if !PRIORITIES.contains(&next) {
            return Err(Error::spec("no free listener rule priority left"));
        }
        used.insert(next);
        out.insert((*name).to_owned(), next);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_ports_are_stable_when_services_come_and_go() {
        let none = BTreeMap::new();
        let free = BTreeSet::new();
        let first = assign_test_ports(&[("api", None), ("pay", None)], &none, &free).unwrap();
        assert_eq!((first["api"], first["pay"]), (8080, 8081));
        // "admin" sorts first but arrives later: the others keep theirs.
        let second = assign_test_ports(
            &[("admin", None), ("api", None), ("pay", None)],
            &first,
            &free,
        )
        .unwrap();
        assert_eq!(
            (second["api"], second["pay"], second["admin"]),
            (8080, 8081, 8082)
        );
        // An explicit port wins over a kept one, which then moves.
        let third =
            assign_test_ports(&[("api", None), ("pay", Some(8080))], &first, &free).unwrap();
        assert_eq!((third["pay"], third["api"]), (8080, 8081));
        // A port another listener keeps is skipped.
        let held: BTreeSet<u16> = [8080].into();
        let fourth = assign_test_ports(&[("api", None)], &none, &held).unwrap();
        assert_eq!(fourth["api"], 8081);
    }

    #[test]
    fn priorities_are_stable_when_services_come_and_go() {
        let none = BTreeSet::new();
        let first =
            assign_priorities(&[("api", None), ("web", None)], &BTreeMap::new(), &none).unwrap();
        assert_eq!(first["api"], 100);
        assert_eq!(first["web"], 110);
        // "admin" sorts first but arrives later: the others keep theirs.
        let second = assign_priorities(
            &[("admin", None), ("api", None), ("web", None)],
            &first,
            &none,
        )
        .unwrap();
        assert_eq!(
            (second["api"], second["web"], second["admin"]),
            (100, 110, 120)
        );
        // Removing api leaves web alone; a newcomer reuses the freed slot.
        let mut third_existing = second.clone();
        third_existing.remove("api");
        let third = assign_priorities(
            &[("admin", None), ("new", None), ("web", None)],
            &third_existing,
            &none,
        )
        .unwrap();
        assert_eq!(
            (third["admin"], third["web"], third["new"]),
            (120, 110, 100)
        );
        // Explicit wins, and a service pushed off its old slot moves to a free one.
        let fourth =
            assign_priorities(&[("admin", None), ("web", Some(120))], &second, &none).unwrap();
        assert_eq!((fourth["web"], fourth["admin"]), (120, 100));
        // Priorities held by rules that are not ours are skipped.
        let foreign: BTreeSet<u32> = [100].into();
        let fifth = assign_priorities(&[("api", None)], &BTreeMap::new(), &foreign).unwrap();
        assert_eq!(fifth["api"], 110);
    }
}
