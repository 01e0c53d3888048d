"""Operations analytics over GraphQL: OEE of stations and lines, building energy."""
