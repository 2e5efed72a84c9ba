DROP TABLE IF EXISTS `acme-data`.`gold__shadow`.`kpis__v4`;
