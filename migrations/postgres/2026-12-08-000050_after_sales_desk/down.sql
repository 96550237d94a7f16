DROP INDEX after_sales_queue;
DROP TABLE after_sales_answers;
ALTER TABLE after_sales_cases DROP COLUMN refund_id;
ALTER TABLE after_sales_cases DROP COLUMN outcome;
