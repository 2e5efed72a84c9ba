SELECT column_name, data_type, is_nullable FROM `acme-data.gold.INFORMATION_SCHEMA.COLUMNS` AS info WHERE table_schema = 'gold' AND table_name = 'kpis' ORDER BY ordinal_position;
SELECT COUNT(*) AS row_count, COUNT(`day`) AS c0_non_null, COUNT(DISTINCT `day`) AS c0_distinct, MIN(`day`) AS c0_min, MAX(`day`) AS c0_max FROM `acme-data`.`gold`.`kpis`;
