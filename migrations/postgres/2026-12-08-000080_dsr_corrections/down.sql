DROP TABLE dsr_corrections;
