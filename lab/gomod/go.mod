module edgex-smoke.invalid/lab

go 1.25.0
