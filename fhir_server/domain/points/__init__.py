"""Health points (健康积分, 一(九); 粤(九)): an `Account` per resident and an immutable ledger of
`Basic` entries (profiles `jiayi-health-points-account`, `jiayi-health-points-entry`)."""
