"""Climate-sensitive disease alerts by area and population (粤(七): "针对媒介生物传染病、气候相关疾病，
探索开展气候敏感疾病的预警提醒服务")."""
