"""The demo data set (issue 10): one district of Guangzhou (天河区, 440106) as a living primary-care
system, loaded idempotently by `jiayi demo` and `jiayi serve --demo`."""
