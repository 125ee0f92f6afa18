"""The contract's GraphQL types (objects, inputs, enums, payloads, scalars), the request
context, and the checks every operation passes; rujuk.api assembles them with the root
types of resolvers/."""
