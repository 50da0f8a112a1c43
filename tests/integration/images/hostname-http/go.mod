module hostname-http

go 1.19
