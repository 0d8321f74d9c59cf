-- Rate-limit counters need no durability: after a crash they may start from zero, which only lets a client through a
-- little early in the window it crashed in. Unlogged, they cost no WAL write and no WAL flush at commit, which every
-- client-endpoint request paid once. (Unlogged tables are not copied to streaming replicas: after a failover the
-- counters also start from zero.)
alter table rate_limits set unlogged;
