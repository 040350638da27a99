//! Route tables, their default routes and the subnets' associations. Routes
//! and associations keep no tags: they are checked through their route table.

use common::Result;
use serde_json::Value;

use super::{find, Fix, Op, Planner, What};
use crate::actual::{Res, TableState};
use crate::components::{self as c, Key, Kind};
use crate::desired::Via;

impl Planner<'_> {
    pub(super) fn tables(&mut self) -> Result<()> {
        for (component, via) in &self.desired.tables {
            let Some(table) = find(&self.actual.tables, component) else {
                self.push(Op::Create(Key::new(Kind::RouteTable, component)));
                if *via != Via::Nothing {
                    self.push(Op::Create(Key::new(Kind::Route, component)));
                }
                continue;
            };
            self.know(Kind::RouteTable, component, &table.id);
            let fixes = self.tag_fix(table).into_iter().collect();
            self.update(Kind::RouteTable, table, fixes)?;
            self.route(table, via)?;
        }
        self.associations()?;
        for table in &self.actual.tables {
            if !self.desired.tables.contains_key(table.component()) {
                self.stale_table(table)?;
            }
        }
        Ok(())
    }

    /// The id the default route must point at, when the target exists already.
    fn target_id(&self, via: &Via) -> Option<String> {
        match via {
            Via::Igw => self.plan.id(Kind::Igw, c::IGW).map(str::to_owned),
            Via::Nat(n) => self.plan.id(Kind::Nat, n).map(str::to_owned),
            Via::Nothing => None,
        }
    }

    fn target_name(&self, via: &Via) -> Value {
        match via {
            Via::Igw => Value::from(self.name(c::IGW)),
            Via::Nat(n) => Value::from(self.name(n)),
            Via::Nothing => Value::Null,
        }
    }

    fn route(&mut self, table: &Res<TableState>, via: &Via) -> Result<()> {
        let key = Key::new(Kind::Route, table.component());
        let Some(now) = &table.state.default_route else {
            if *via != Via::Nothing {
                self.push(Op::Create(key));
            }
            return Ok(());
        };
        if *via == Via::Nothing {
            // nat "none": the private tables lose their way out.
            if self.prune {
                self.owned(Kind::RouteTable, table)?;
                self.push(Op::Delete {
                    key,
                    id: table.id.clone(),
                });
            } else {
                self.plan.warnings.push(format!(
                    "route {} is no longer in the spec; kept",
                    key.name(self.ctx)
                ));
            }
            return Ok(());
        }
        let want = self.target_id(via);
        let right = !now.blackhole && want.is_some() && (now.gateway == want || now.nat == want);
        if right {
            return Ok(());
        }
        self.owned(Kind::RouteTable, table)?;
        let to = self.target_name(via);
        let mut from = Value::from(self.shown_target(&now.target()));
        if from == to {
            // The same NAT gateway by name, a new one by id (replaced, or the
            // route is a blackhole): the id says what changes.
            from = Value::from(now.target());
        }
        self.push(Op::Update {
            key,
            id: table.id.clone(),
            fixes: vec![Fix {
                field: "target",
                from,
                to,
                what: What::RouteTarget,
            }],
        });
        Ok(())
    }

    /// A target id as plans show it: our NAT gateway's or IGW's name, else the id.
    fn shown_target(&self, id: &str) -> String {
        let nat = self.actual.nats.iter().find(|n| n.id == id);
        let igw = self.actual.igws.iter().find(|g| g.id == id);
        match (nat, igw) {
            (Some(n), _) => self.name(n.component()),
            (_, Some(g)) => self.name(g.component()),
            _ => id.to_owned(),
        }
    }

    /// Every subnet of the spec associated with its table: created, or moved
    /// from another of our tables.
    fn associations(&mut self) -> Result<()> {
        for (subnet, table) in &self.desired.associations {
            let key = Key::new(Kind::Association, subnet);
            let Some(subnet_id) = self.plan.id(Kind::Subnet, subnet).map(str::to_owned) else {
                self.push(Op::Create(key));
                continue;
            };
            let current = self.actual.tables.iter().find_map(|t| {
                t.state
                    .associations
                    .iter()
                    .find(|a| a.subnet_id == subnet_id)
                    .map(|a| (t, a))
            });
            match current {
                None => self.push(Op::Create(key)),
                Some((t, _)) if t.component() == table => {}
                Some((t, a)) => {
                    self.owned(Kind::RouteTable, t)?;
                    self.push(Op::Update {
                        key,
                        id: a.id.clone(),
                        fixes: vec![Fix {
                            field: "route_table",
                            from: Value::from(self.name(t.component())),
                            to: Value::from(self.name(table)),
                            what: What::AssocTable,
                        }],
                    });
                }
            }
        }
        Ok(())
    }

    /// A table of an AZ the spec dropped: its associations go first, then it.
    fn stale_table(&mut self, table: &Res<TableState>) -> Result<()> {
        if self.prune {
            self.owned(Kind::RouteTable, table)?;
            for a in &table.state.associations {
                let subnet = self
                    .actual
                    .subnets
                    .iter()
                    .find(|s| s.id == a.subnet_id)
                    .map_or(a.subnet_id.as_str(), |s| s.component());
                if self.desired.associations.contains_key(subnet) {
                    continue; // moved to its table by `associations`
                }
                self.push(Op::Delete {
                    key: Key::new(Kind::Association, subnet),
                    id: a.id.clone(),
                });
            }
        }
        self.prune(Kind::RouteTable, table)
    }
}
