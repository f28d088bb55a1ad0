module bun-gvproxy/framing

go 1.25.0
