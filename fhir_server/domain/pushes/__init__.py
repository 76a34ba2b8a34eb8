"""Health-information pushes: at least 12 a year per contracted resident, by solar term, covering the
set topics, with personalised guidance, delivered through channels and counted (国卫办基层发〔2025〕21号
（三）; 粤(三); 附件1/附件2 "健康提醒 每年不少于12次")."""
