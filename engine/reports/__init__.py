"""Reports per authority and period: citizens' appeals and administrative procedures, aggregated
in SQL (`figures`), as CSV and XLSX (`export`)."""
