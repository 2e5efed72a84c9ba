SELECT COUNT(*) FROM `acme-data`.`gold`.`kpis`;
