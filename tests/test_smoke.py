def test_signin_page_renders(client):
    response = client.get("/signin/")
    assert response.status_code == 200
    assert b"Sign in" in response.content
