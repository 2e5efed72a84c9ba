DROP VIEW IF EXISTS `acme-data`.`gold`.`kpis`;
